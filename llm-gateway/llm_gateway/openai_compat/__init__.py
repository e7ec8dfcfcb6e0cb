"""OpenAI's wire format: request/response models and the translation to and from Nova's contract.

These models describe a third-party protocol (what the `openai` SDK sends), not a Nova contract, so they
live here rather than in `nova_contracts`. Requests allow unknown fields: OpenAI adds parameters often, and
OpenAI-compatible upstreams receive them unchanged.
"""
