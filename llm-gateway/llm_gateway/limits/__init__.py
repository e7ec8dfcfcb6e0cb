"""Sliding-window limits kept in Redis: provider daily quotas and per-API-key request rates."""
