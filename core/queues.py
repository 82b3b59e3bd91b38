"""Queue SSOT: task queues, activity timeouts and retry policies. Pure: safe to import from workflows."""

from datetime import timedelta

from temporalio.common import RetryPolicy

# Task queues
LEADS_QUEUE = "leadflow-leads"

# Activity options
DB_ACTIVITY_TIMEOUT = timedelta(seconds=30)
DB_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=["NotFound", "InvalidInput"],
)

# Workflow start from the API
WORKFLOW_START_TIMEOUT = timedelta(seconds=10)
