"""Typed clients of the workflows for processes outside the worker (the API, the webhook dispatcher)."""
