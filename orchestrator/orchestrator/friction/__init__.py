"""Friction log: reports of something that went wrong on a dashboard page, and "fix this" as a pipeline task."""
