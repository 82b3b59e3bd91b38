"""The kinds of notification a person gets (models/notification.py). Pure: shared by activities and the API."""

from enum import StrEnum


class NotificationKind(StrEnum):
    SPEED_TO_LEAD = "speed_to_lead"  # a new lead not contacted in the tenant's minutes: its owner, else owners/admins
    TASK_ASSIGNED = "task_assigned"  # a sequence's task step created a task for them
    TASK_OVERDUE = "task_overdue"  # their open task passed its due time
    AI_BUDGET = "ai_budget"  # the AI agent passed its monthly soft budget (or paused at the hard one): the owners
    AI_DRAFT_WAITING = "ai_draft_waiting"  # an AI draft waits for approval: the lead's owner, else owners/admins
    # Raised by the AI agent and call handling once those exist.
    HANDOFF_REQUESTED = "handoff_requested"
    MISSED_CALL = "missed_call"
