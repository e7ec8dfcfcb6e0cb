"""Usage records (Redis stream for the orchestrator) and the in-process local-inference statistics."""
