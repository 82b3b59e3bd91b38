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
