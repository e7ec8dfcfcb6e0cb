"""Skills (instruction snippets pod agents include) and rules (constraints put in prompts and enforced on
tool calls)."""
