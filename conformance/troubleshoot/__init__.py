"""Troubleshooting conformance: the doctor names each usual mistake on every backend."""
