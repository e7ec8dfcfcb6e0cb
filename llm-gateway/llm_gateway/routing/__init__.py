"""Routing: which models a request may go to, in which order (strategy + fallback chain)."""
