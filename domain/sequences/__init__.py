"""Outreach sequences, the pure core: step model, definition validation, scheduling, preview, message variables.

Safe in Temporal workflows (no I/O, no clock, no phone lookup). See each module's docstring for its contract.
"""
