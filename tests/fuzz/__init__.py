"""Schemathesis fuzzing of running Nova services (see tests/test_fuzz_openapi.py)."""
