"""The pipeline's agents: output schemas, default system prompts and the validated model call."""
