"""recovery: backup/restore, factory reset, service management, inference backend lifecycle."""

__version__ = "0.1.0"
