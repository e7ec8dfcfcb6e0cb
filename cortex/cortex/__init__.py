"""cortex: autonomous brain: thinking loop, goals, drives, budget tracking."""

__version__ = "0.1.0"
