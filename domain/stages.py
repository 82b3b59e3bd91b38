"""Canonical lead stages and the one table of allowed transitions between them."""

from enum import StrEnum


class Stage(StrEnum):
    NEW = "new"
    CONTACTED = "contacted"
    ENGAGED = "engaged"
    QUALIFIED = "qualified"
    WON = "won"
    LOST = "lost"
    UNREACHABLE = "unreachable"
    OPTED_OUT = "opted_out"


TERMINAL_STAGES = frozenset({Stage.WON, Stage.LOST, Stage.OPTED_OUT})

_OPEN = {Stage.NEW, Stage.CONTACTED, Stage.ENGAGED, Stage.QUALIFIED, Stage.UNREACHABLE}

# from-stage -> stages it may move to. Moving between two statuses of the same stage is always allowed.
ALLOWED_TRANSITIONS: dict[Stage, frozenset[Stage]] = {
    Stage.NEW: frozenset(
        {Stage.CONTACTED, Stage.ENGAGED, Stage.QUALIFIED, Stage.LOST, Stage.UNREACHABLE, Stage.OPTED_OUT}
    ),
    Stage.CONTACTED: frozenset(
        {Stage.ENGAGED, Stage.QUALIFIED, Stage.WON, Stage.LOST, Stage.UNREACHABLE, Stage.OPTED_OUT}
    ),
    Stage.ENGAGED: frozenset(
        {Stage.CONTACTED, Stage.QUALIFIED, Stage.WON, Stage.LOST, Stage.UNREACHABLE, Stage.OPTED_OUT}
    ),
    Stage.QUALIFIED: frozenset({Stage.ENGAGED, Stage.WON, Stage.LOST, Stage.OPTED_OUT}),
    Stage.UNREACHABLE: frozenset({Stage.CONTACTED, Stage.ENGAGED, Stage.LOST, Stage.OPTED_OUT}),
    # Terminal stages: a won or lost lead may be reopened by a person; an opt-out is final.
    # A person may say STOP at any time, won or lost included: opting out is reachable from every stage.
    Stage.WON: frozenset({Stage.LOST, Stage.OPTED_OUT}),
    Stage.LOST: frozenset({Stage.CONTACTED, Stage.ENGAGED, Stage.OPTED_OUT}),
    Stage.OPTED_OUT: frozenset(),
}
assert set(ALLOWED_TRANSITIONS) == set(Stage)
assert _OPEN | TERMINAL_STAGES == set(Stage)


def transition_error(current: Stage | str, target: Stage | str) -> str | None:
    """None when `current -> target` is allowed, otherwise the reason it is not."""
    current, target = Stage(current), Stage(target)
    if current == target:
        return None if current != Stage.OPTED_OUT else "the lead has opted out; its status can no longer change"
    if target in ALLOWED_TRANSITIONS[current]:
        return None
    if current == Stage.OPTED_OUT:
        return "the lead has opted out; its status can no longer change"
    return f"a lead in stage '{current}' cannot move to stage '{target}'"


DEFAULT_STATUSES: list[tuple[str, str, Stage]] = [
    ("new", "New", Stage.NEW),
    ("contacted", "Contacted", Stage.CONTACTED),
    ("engaged", "Engaged", Stage.ENGAGED),
    ("qualified", "Qualified", Stage.QUALIFIED),
    ("won", "Won", Stage.WON),
    ("lost", "Lost", Stage.LOST),
    ("unreachable", "Unreachable", Stage.UNREACHABLE),
    ("opted_out", "Opted out", Stage.OPTED_OUT),
]
