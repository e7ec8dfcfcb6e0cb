"""Service management: restart a service, start/stop an optional profile, read recent log lines."""
