"""Tool arguments are validated like API input; a bad one is an error the model reads, never an exception. The
tools act on the turn's own lead only: an argument naming another lead is refused."""

import json
import uuid

import pytest

from agent.tools import ScheduleCallbackArgs, SetStatusArgs, ToolRefused, parse_arguments, tool_definitions
from domain.ai_agent import AgentTool

# Fixed ids: test ids name them, and every test process must collect the same ids.
LEAD = str(uuid.UUID(int=1))
OTHER_LEAD = str(uuid.UUID(int=2))


def test_valid_arguments_are_parsed() -> None:
    args = parse_arguments(AgentTool.SET_STATUS, json.dumps({"status": "qualified"}), lead_id=LEAD)
    assert isinstance(args, SetStatusArgs) and args.status == "qualified"
    callback = parse_arguments(AgentTool.SCHEDULE_CALLBACK, '{"at_local": "2026-12-05T10:00"}', lead_id=LEAD)
    assert isinstance(callback, ScheduleCallbackArgs) and callback.at_local.hour == 10
    same_lead = parse_arguments(AgentTool.GET_LEAD, json.dumps({"lead_id": LEAD}), lead_id=LEAD)
    assert same_lead.lead_id == LEAD


@pytest.mark.parametrize(
    ("tool", "raw", "message"),
    [
        (AgentTool.GET_LEAD, json.dumps({"lead_id": OTHER_LEAD}), "only act on its own lead"),
        (AgentTool.SET_STATUS, json.dumps({"status": "won", "lead_id": OTHER_LEAD}), "only act on its own lead"),
        (AgentTool.SET_STATUS, "{}", "status: Field required"),
        (AgentTool.SET_STATUS, json.dumps({"status": "won", "tenant_id": "x"}), "tenant_id: Extra inputs"),
        (AgentTool.SCHEDULE_CALLBACK, '{"at_local": "tomorrow"}', "at_local"),
        (AgentTool.HANDOFF_TO_HUMAN, "not json", "not valid JSON"),
        (AgentTool.HANDOFF_TO_HUMAN, "[1]", "JSON object"),
    ],
)
def test_bad_arguments_are_refused_with_a_reason(tool: AgentTool, raw: str, message: str) -> None:
    with pytest.raises(ToolRefused) as refused:
        parse_arguments(tool, raw, lead_id=LEAD)
    assert message in str(refused.value)


def test_definitions_offer_only_the_allowed_tools_and_the_tenants_statuses() -> None:
    definitions = tool_definitions((AgentTool.SET_STATUS, AgentTool.GET_LEAD), ["new", "qualified", "lost"])
    assert [d["function"]["name"] for d in definitions] == ["set_status", "get_lead"]
    status = definitions[0]["function"]["parameters"]["properties"]["status"]
    assert status["enum"] == ["new", "qualified", "lost"]
    assert definitions[0]["function"]["parameters"]["additionalProperties"] is False
