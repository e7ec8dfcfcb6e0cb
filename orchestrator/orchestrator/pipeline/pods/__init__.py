"""Pods: named pipeline configurations (which agents run, with which models, limits and routing)."""
