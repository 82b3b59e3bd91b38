"""The evaluation set scores 100% against the sandbox model: the plumbing from prompt to decision holds for every
category (the same file measures a real model when a key is set)."""

from evals.run import evaluate, load, report
from tests.fixtures.sandbox import SANDBOX_OPENAI_KEY


async def test_the_sandbox_model_scores_every_conversation(sandbox_url: str) -> None:
    data = load()
    assert len(data["conversations"]) >= 30
    outcomes = await evaluate(base_url=f"{sandbox_url}/v1", api_key=SANDBOX_OPENAI_KEY, model="sandbox-model")
    assert all(o.passed for o in outcomes), report(outcomes)
    assert {o.category for o in outcomes} == {"facts", "tools", "handoff", "no_reply", "guardrail"}


async def test_a_wrong_expectation_is_reported_as_a_failure(sandbox_url: str) -> None:
    data = load()
    case = next(c for c in data["conversations"] if c["id"] == "price-1")
    wrong = {**data, "conversations": [{**case, "expect": {"decision": "handoff", "tools": ["handoff_to_human"]}}]}
    (outcome,) = await evaluate(base_url=f"{sandbox_url}/v1", api_key=SANDBOX_OPENAI_KEY, model="m", data=wrong)
    assert not outcome.passed and outcome.why == "decision reply, expected handoff"
    assert "FAILED price-1" in report([outcome])
