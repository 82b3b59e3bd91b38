"""Temporal workflows: deterministic business processes. No I/O library is imported here (import contract)."""
