"""Starts and never answers: an MCP server that hangs during the handshake."""

import time

time.sleep(3600)
