"""Backups: archive format, PostgreSQL and Redis parts, sealed .env keys, restore."""
