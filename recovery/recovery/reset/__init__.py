"""Factory reset by category."""
