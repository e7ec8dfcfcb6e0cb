"""voice-service: speech to text and text to speech, through cloud providers or an offline voice."""

__version__ = "0.1.0"
