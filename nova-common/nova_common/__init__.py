"""Nova's runtime kit: what every service needs the same way."""

__version__ = "0.1.0"
