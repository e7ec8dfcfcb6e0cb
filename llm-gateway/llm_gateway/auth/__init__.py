"""`sk-nova` API keys for `/v1/*`, validated by the orchestrator (the gateway has no database)."""
