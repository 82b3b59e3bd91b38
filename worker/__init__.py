"""The Temporal worker process: the only place workflows and activities are wired together."""
