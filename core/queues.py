"""Queue SSOT: task queues, and the call options (timeouts, retry policy) of each kind of activity.

Pure: safe to import from workflows. A workflow calls an activity with the options of its kind,
`workflow.execute_activity(NAME, arg, **DB_WRITE)`, never with options of its own.
"""

from datetime import timedelta
from typing import TypedDict

from temporalio.common import RetryPolicy

# Task queues. Interactive work (lead workflows and what people and providers send them, AI and call turns, jobs)
# polls LEADS_QUEUE; sequence enrollments, whose due steps come in bursts, poll SEQUENCES_QUEUE on a worker of their
# own, so a burst never queues ahead of a reply. A workflow keeps the queue it started on (enrollments started before
# the split stay on LEADS_QUEUE, which still serves them), and its activities run on its queue.
LEADS_QUEUE = "leadflow-leads"
SEQUENCES_QUEUE = "leadflow-sequences"

# Fair between tenants on the bulk queue: every enrollment starts with its tenant as its Temporal fairness key (its
# workflow and activity tasks inherit it), and the server dispatches a queue's backlog round-robin across keys, so
# one tenant's 10,000 due steps do not queue ahead of another tenant's one. The server must have fairness on: the
# dynamic config below, passed to every Temporal server Leadflow starts (`./run up`, the tests, the benchmarks) and
# set in deploy/temporal/dynamicconfig.yaml. Without it the key is ignored and the queue is first in, first out.
# One partition per task queue: fairness orders a partition's backlog, and with the default four a tenant's task
# waited behind 11 to 56 of an 80-task burst instead of 1 (tests/workflows/test_sequence_bursts.py). One partition
# carries far more than the workers here can take; a cluster that needs more gives up some fairness for it.
TEMPORAL_DYNAMIC_CONFIG: dict[str, str] = {
    "matching.useNewMatcher": "true",
    "matching.enableFairness": "true",
    "matching.numTaskqueueReadPartitions": "1",
    "matching.numTaskqueueWritePartitions": "1",
}


def dev_server_dynamic_config_args() -> list[str]:
    """`temporal server start-dev` arguments that set TEMPORAL_DYNAMIC_CONFIG."""
    return [
        arg for key, value in TEMPORAL_DYNAMIC_CONFIG.items() for arg in ("--dynamic-config-value", f"{key}={value}")
    ]


# Exception class names (Temporal's failure type of a plain exception) that a retry cannot fix. SQLAlchemy raises
# `sqlalchemy.exc.DataError` for a value PostgreSQL refuses (a NUL character, a string too long, a bad number):
# the same row fails the same way on every attempt.
DATA_ERROR = "DataError"


class ActivityOptions(TypedDict, total=False):
    """The keyword options of `workflow.execute_activity` that this module decides."""

    start_to_close_timeout: timedelta
    schedule_to_close_timeout: timedelta
    retry_policy: RetryPolicy


class HeartbeatActivityOptions(ActivityOptions, total=False):
    """The options of an activity that heartbeats (never a local activity: those take no heartbeat timeout)."""

    heartbeat_timeout: timedelta


DB_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=[DATA_ERROR],
)

# A DB write (mirror, task row, timeline event, cap reservation): retried while the database is away; an activity
# that finds its row gone raises its own non-retryable type (LeadGone, JobGone).
DB_WRITE = ActivityOptions(start_to_close_timeout=timedelta(seconds=30), retry_policy=DB_RETRY)

# A call's AI summary: one model call, tried twice at most; a call ends without one rather than wait.
CALL_SUMMARY: ActivityOptions = {
    "start_to_close_timeout": timedelta(seconds=40),
    "retry_policy": RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=2),
}

# A call's outcome for its lead's workflow: bounded, so an unreachable Temporal never holds a call's end for long.
CALL_TELL_LEAD: ActivityOptions = {**DB_WRITE, "schedule_to_close_timeout": timedelta(minutes=10)}

# Lead workflow: a status change is answered to a waiting person, so saving it is bounded; past this it is refused.
LEAD_STATUS_MIRROR: ActivityOptions = {**DB_WRITE, "schedule_to_close_timeout": timedelta(minutes=1)}

# WhatsApp sends: throttling (pacing, provider 429) is retried after the delay the error names; every other refusal
# is raised non-retryable by the activity itself.
WHATSAPP_SEND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
)
_WHATSAPP_SEND = ActivityOptions(start_to_close_timeout=timedelta(seconds=30), retry_policy=WHATSAPP_SEND_RETRY)
# An agent's message is answered to a waiting agent: bounded.
MANUAL_SEND: ActivityOptions = {**_WHATSAPP_SEND, "schedule_to_close_timeout": timedelta(minutes=1)}
# A sequence step's send keeps retrying throttling for up to this long, then the step is recorded failed and the
# enrollment goes on.
SEQUENCE_SEND: ActivityOptions = {**_WHATSAPP_SEND, "schedule_to_close_timeout": timedelta(hours=6)}

# A scheduled send taken back or read (`sequence.settle_scheduled_send`): it waits, heartbeating, while a drain holds
# the send, and is retried like a DB write. The scheduled-send drain keeps trying a throttled send for as long as
# SEQUENCE_SEND's schedule-to-close timeout, with its backoff (worker/send_drain.py).
SCHEDULED_SEND_SETTLE: HeartbeatActivityOptions = {
    "start_to_close_timeout": timedelta(minutes=5),
    "heartbeat_timeout": timedelta(seconds=30),
    "retry_policy": DB_RETRY,
}

# A sequence's set_status step: an update of the lead's workflow, through an activity.
SEQUENCE_SET_STATUS: ActivityOptions = {**DB_WRITE, "schedule_to_close_timeout": timedelta(minutes=10)}
# A `call` step starting its call (a row and a workflow start): a refusal (no account, calls off) is non-retryable.
SEQUENCE_CALL_START: ActivityOptions = {**DB_WRITE, "schedule_to_close_timeout": timedelta(minutes=10)}

# Background jobs (workflows/bulk_start.py): one chunk of workflow starts; a chunk still failing after this long ends
# the job `failed` (its unstarted rows are left to the sweeper). One sweep gets one attempt: the next sweep retries.
JOB_CHUNK = ActivityOptions(
    start_to_close_timeout=timedelta(minutes=2), schedule_to_close_timeout=timedelta(minutes=30), retry_policy=DB_RETRY
)
JOB_FINISH: ActivityOptions = {**DB_WRITE, "schedule_to_close_timeout": timedelta(hours=1)}
SWEEP_RUN = ActivityOptions(start_to_close_timeout=timedelta(minutes=5), retry_policy=RetryPolicy(maximum_attempts=1))

# Calls: one request to Twilio; placing a call retries throttling and outages (and waits out a placement whose answer
# was lost) for up to CALL_PLACE_SCHEDULE_TO_CLOSE, then the attempt ends `failed`. Refusals are non-retryable.
CALL_PROVIDER_TIMEOUT = timedelta(seconds=20)
CALL_PLACE_SCHEDULE_TO_CLOSE = timedelta(minutes=10)
CALL_PLACE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    non_retryable_error_types=["CallRejected", "NoTelephonyAccount", "NotFound"],
)
# A voice turn is answered to Twilio waiting on the line (15 s webhook deadline): bounded well inside it.
CALL_VOICE_REPLY_TIMEOUT = timedelta(seconds=4)
# Waiting for a call slot: the activity answers NoSlotYet at once and is retried, first soon, then every few seconds.
CALL_SLOT_TIMEOUT = timedelta(seconds=30)
CALL_SLOT_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=1.5,
    maximum_interval=timedelta(seconds=2),
)

# Worker: on SIGTERM, running activities get this long to finish before they are cancelled.
WORKER_GRACEFUL_SHUTDOWN = timedelta(seconds=20)

# Workflow start from the API
WORKFLOW_START_TIMEOUT = timedelta(seconds=10)

# AI agent: one turn calls the model a few times (tool rounds) and its tools; a failed model call is retried by
# Temporal (the SDK never retries), after the provider's Retry-After when it gave one. A turn still failing after the
# schedule-to-close gets no reply; the lead's next message starts a new turn. The plan is a local activity (one read).
# A turn heartbeats while the model thinks (every AI_HEARTBEAT_EVERY): a worker that dies mid-turn is noticed within
# AI_HEARTBEAT_TIMEOUT and the turn re-runs elsewhere, instead of after the whole start-to-close.
AI_HEARTBEAT_TIMEOUT = timedelta(seconds=10)


def _model_retry(*, maximum_attempts: int) -> RetryPolicy:
    """A model call's retries: backing off to 30 s; never a refusal or an exhausted quota (workflows/failures.py)."""
    return RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=30),
        maximum_attempts=maximum_attempts,
        non_retryable_error_types=["AiModelRefused", "AiQuotaExhausted"],
    )


AI_HEARTBEAT_EVERY = timedelta(seconds=2)
AI_PLAN = ActivityOptions(
    start_to_close_timeout=timedelta(seconds=10), schedule_to_close_timeout=timedelta(minutes=1), retry_policy=DB_RETRY
)
AI_TURN = HeartbeatActivityOptions(
    start_to_close_timeout=timedelta(minutes=3),
    heartbeat_timeout=AI_HEARTBEAT_TIMEOUT,
    schedule_to_close_timeout=timedelta(minutes=10),
    retry_policy=_model_retry(maximum_attempts=6),
)
# An AI reply goes out like an agent's message (same outbox), but nobody waits on it: it may wait out throttling.
AI_REPLY_SEND: ActivityOptions = {**_WHATSAPP_SEND, "schedule_to_close_timeout": timedelta(minutes=30)}
# An `ai_message` sequence step's model call: retried like a turn, but for a shorter while: once it still fails, the
# step sends its fallback text instead (a message late by hours would be worse than the fallback now).
AI_COMPOSE = HeartbeatActivityOptions(
    start_to_close_timeout=timedelta(minutes=2),
    heartbeat_timeout=AI_HEARTBEAT_TIMEOUT,
    schedule_to_close_timeout=timedelta(minutes=5),
    retry_policy=_model_retry(maximum_attempts=4),
)
