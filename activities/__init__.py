"""Temporal activities: all I/O of workflows happens here. Classes receive their clients at construction."""
