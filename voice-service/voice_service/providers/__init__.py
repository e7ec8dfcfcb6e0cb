"""Speech providers: each turns audio into text, text into audio, or both, behind one small interface."""
