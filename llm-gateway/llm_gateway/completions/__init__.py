"""Chat completions: the response cache and the service that routes, falls back, limits and records."""
