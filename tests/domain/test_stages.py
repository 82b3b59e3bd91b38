import pytest

from domain.stages import ALLOWED_TRANSITIONS, Stage, transition_error


@pytest.mark.parametrize("stage", [s for s in Stage if s != Stage.OPTED_OUT])
def test_every_stage_can_opt_out(stage: Stage) -> None:
    assert transition_error(stage, Stage.OPTED_OUT) is None


@pytest.mark.parametrize("target", list(Stage))
def test_an_opt_out_is_final(target: Stage) -> None:
    assert transition_error(Stage.OPTED_OUT, target) == "the lead has opted out; its status can no longer change"


def test_a_refusal_names_both_stages() -> None:
    assert transition_error("new", "won") == "a lead in stage 'new' cannot move to stage 'won'"


def test_moving_between_statuses_of_one_stage_is_always_allowed() -> None:
    for stage in Stage:
        if stage != Stage.OPTED_OUT:
            assert transition_error(stage, stage) is None


def test_won_and_lost_can_be_reopened_but_not_skipped_back_to_new() -> None:
    assert Stage.NEW not in ALLOWED_TRANSITIONS[Stage.WON] | ALLOWED_TRANSITIONS[Stage.LOST]
    assert transition_error(Stage.LOST, Stage.ENGAGED) is None
