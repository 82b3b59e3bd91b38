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

# Lead workflow: a status change is answered to a waiting person, so saving it is bounded; past this it is refused.
LEAD_STATUS_MIRROR_SCHEDULE_TO_CLOSE = timedelta(minutes=1)

# WhatsApp send activity: throttling (pacing, provider 429) is retried after the delay the error names; every other
# refusal is raised non-retryable by the activity itself. A manual send is answered to a waiting agent: bounded.
WHATSAPP_SEND_START_TO_CLOSE = timedelta(seconds=30)
WHATSAPP_SEND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
)
WHATSAPP_MANUAL_SEND_SCHEDULE_TO_CLOSE = timedelta(minutes=1)

# Sequence workflow: a step's send keeps retrying throttling for up to this long, then the step is recorded failed
# and the enrollment goes on. Writing a task, a mirror or a cap reservation is a DB write (DB_RETRY).
SEQUENCE_SEND_SCHEDULE_TO_CLOSE = timedelta(hours=6)
SEQUENCE_SET_STATUS_SCHEDULE_TO_CLOSE = timedelta(minutes=10)

# Background jobs (workflows/bulk_start.py): one chunk of workflow starts; a chunk still failing after this long ends
# the job `failed` (its unstarted rows are left to the sweeper). One sweep gets one attempt: the next sweep retries.
JOB_CHUNK_START_TO_CLOSE = timedelta(minutes=2)
JOB_CHUNK_SCHEDULE_TO_CLOSE = timedelta(minutes=30)
SWEEP_START_TO_CLOSE = timedelta(minutes=5)
SWEEP_RETRY = RetryPolicy(maximum_attempts=1)

# Worker: on SIGTERM, running activities get this long to finish before they are cancelled.
WORKER_GRACEFUL_SHUTDOWN = timedelta(seconds=20)

# Workflow start from the API
WORKFLOW_START_TIMEOUT = timedelta(seconds=10)
