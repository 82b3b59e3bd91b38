"""Outreach sequences, the pure core: step model, definition validation, scheduling, preview, message variables.

Safe in Temporal workflows: no I/O, no clock, no phone lookup (the lead's zone is resolved outside and passed in).
It runs re-imported inside the workflow sandbox, but a workflow module should import it passed through
(`with workflow.unsafe.imports_passed_through(): from domain.sequences ...`): building the pydantic models costs
~100 ms and one copy per workflow run otherwise, and the package keeps no mutable global state, so one shared copy
is safe. tests/domain/sequences/test_workflow_sandbox.py runs it both ways.
"""
