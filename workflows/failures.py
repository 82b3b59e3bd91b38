"""The failure types workflows and their activities raise (`ApplicationError.type`), named once.

Recorded histories hold these strings, so a value never changes; add a member instead. The API's clients
(workflow_clients/errors.py) turn them into HTTP answers.
"""

from enum import StrEnum


class WorkflowFailure(StrEnum):
    LEAD_GONE = "LeadGone"  # the lead's row was deleted: nothing more to do for it
    INVALID_TRANSITION = "InvalidTransition"  # a status change the lead's stage does not allow
    INVALID_INPUT = "InvalidInput"  # an update's argument the workflow cannot act on
    ENROLLMENT_NOT_ACTIVE = "EnrollmentNotActive"  # pause of a paused/ended enrollment, resume of an active one...
    TASK_NOT_OPEN = "TaskNotOpen"  # the task was completed/skipped, or is not the step the enrollment waits on
    STATUS_REFUSED = "StatusRefused"  # a sequence's set_status step: the lead's workflow refused the transition
    JOB_GONE = "JobGone"  # a background job's row was deleted
    AI_DRAFT_NOT_PENDING = "AiDraftNotPending"  # the draft was decided, withdrawn by a newer message, or expired
    AI_DRAFT_NOT_SENT = "AiDraftNotSent"  # an approved draft the outbox refused (window closed, opted out...)
    AI_MODEL_REFUSED = "AiModelRefused"  # the model endpoint refused the request (key, model, base URL)
    AI_QUOTA_EXHAUSTED = "AiQuotaExhausted"  # the model provider's quota is used up (429 insufficient_quota)
    AI_MODEL_UNAVAILABLE = "AiModelUnavailable"  # retryable: rate limited, server error, timeout
    NO_TELEPHONY_ACCOUNT = "NoTelephonyAccount"  # a call of a tenant without a telephony account
    CALL_REJECTED = "CallRejected"  # Twilio refused the call (credentials, number) or its lead/caller id is gone
    PLACEMENT_IN_FLIGHT = "PlacementInFlight"  # a call was sent to Twilio and its SID is not known yet: retry soon
    CALLS_DISABLED = "CallsDisabled"  # the tenant's `calls` feature flag is off: the call is not placed
    CALL_NOT_LIVE = "CallNotLive"  # a voice turn of a call that has ended
    NO_SLOT_YET = "NoSlotYet"  # no call slot free yet: retry soon
