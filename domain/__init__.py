"""Pure business rules shared by the API and the workflows (no I/O)."""
