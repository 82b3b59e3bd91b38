"""The monthly token budget: months are UTC calendar months; soft tells the owners once, hard pauses the agent."""

from datetime import UTC, datetime
from enum import StrEnum


class BudgetState(StrEnum):
    OK = "ok"
    SOFT_REACHED = "soft_reached"  # past the soft budget: owners are told once a month, the agent goes on
    HARD_REACHED = "hard_reached"  # past the hard budget: the agent does not call the model until next month


def month_start(at: datetime) -> datetime:
    at = at.astimezone(UTC)
    return datetime(at.year, at.month, 1, tzinfo=UTC)


def month_key(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m")


def budget_state(used: int, *, soft: int | None, hard: int | None) -> BudgetState:
    if hard is not None and used >= hard:
        return BudgetState.HARD_REACHED
    if soft is not None and used >= soft:
        return BudgetState.SOFT_REACHED
    return BudgetState.OK
