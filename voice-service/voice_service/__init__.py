"""voice-service: sTT/TTS provider proxy."""

__version__ = "0.1.0"
