"""Embeddings: the built-in all-MiniLM-L6-v2 (tokenizers + numpy) and cloud models through LiteLLM."""
