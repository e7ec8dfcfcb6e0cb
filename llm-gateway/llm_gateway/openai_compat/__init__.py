"""OpenAI's wire format: request/response models and the translation to and from Nova's contract.

These models describe a third-party protocol (what the `openai` SDK sends), not a Nova contract, so they
live here rather than in `nova_contracts`. Requests accept only the parameters listed in `schemas.py`: an
unknown field is refused with 400, never passed upstream (see `schemas.FORWARDED_CHAT_PARAMETERS`).
"""
