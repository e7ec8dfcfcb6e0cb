"""Providers: the catalog of what Nova can talk to, the transports that talk, and the local model slot."""
