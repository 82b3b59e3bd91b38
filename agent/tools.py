"""The agent's tools: their JSON schemas for the model and the validation of the arguments it sends.

The model names no tenant and needs no lead id: every tool acts on the turn's own lead. A `lead_id` it sends anyway
must be that lead's, otherwise the call is refused. Arguments are validated like API input; a bad one is a tool
error the model reads (`{"error": ...}`), never an exception.
"""

import functools
import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from domain.ai_agent import AgentTool


class ToolRefused(Exception):
    """The arguments are not acceptable; the message goes back to the model as the tool's result."""


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lead_id: str | None = Field(default=None, description="the lead of this conversation; may be left out")


class GetLeadArgs(_Args):
    pass


class SetStatusArgs(_Args):
    status: str = Field(min_length=1, max_length=63, description="one of the tenant's status keys")
    reason: str | None = Field(default=None, max_length=300)


class HandoffArgs(_Args):
    reason: str = Field(min_length=1, max_length=300)


class ScheduleCallbackArgs(_Args):
    at_local: datetime = Field(description="YYYY-MM-DDTHH:MM in the lead's local time")
    note: str | None = Field(default=None, max_length=300)


class StopSequencesArgs(_Args):
    reason: str | None = Field(default=None, max_length=300)


ARGUMENTS: dict[AgentTool, type[_Args]] = {
    AgentTool.GET_LEAD: GetLeadArgs,
    AgentTool.SET_STATUS: SetStatusArgs,
    AgentTool.HANDOFF_TO_HUMAN: HandoffArgs,
    AgentTool.SCHEDULE_CALLBACK: ScheduleCallbackArgs,
    AgentTool.STOP_SEQUENCES: StopSequencesArgs,
}

DESCRIPTIONS = {
    AgentTool.GET_LEAD: "Read the current lead's CRM record: name, status, source, custom fields.",
    AgentTool.SET_STATUS: "Move the current lead to one of the tenant's statuses (e.g. qualified, lost).",
    AgentTool.HANDOFF_TO_HUMAN: "Hand the conversation to a person: a task is created and you stop answering.",
    AgentTool.SCHEDULE_CALLBACK: "Schedule a call back to the lead at a local date and time.",
    AgentTool.STOP_SEQUENCES: "Stop the automated outreach sequences the lead is enrolled in.",
}


@functools.cache
def _base_schema(tool: AgentTool) -> str:
    """The tool's argument schema without titles, as JSON: generating it costs milliseconds, so once per process."""
    schema = ARGUMENTS[tool].model_json_schema()
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)
    return json.dumps(schema)


def tool_definitions(tools: tuple[AgentTool, ...], status_keys: list[str]) -> list[dict[str, Any]]:
    """The `tools` parameter of a chat completion: the allowed tools with their argument schemas."""
    definitions = []
    for tool in tools:
        schema = json.loads(_base_schema(tool))  # a fresh copy: the per-turn changes below never touch the cache
        if tool == AgentTool.SET_STATUS and status_keys:
            schema["properties"]["status"]["enum"] = status_keys
        if tool == AgentTool.SCHEDULE_CALLBACK:
            schema["properties"]["at_local"] = {"type": "string", "description": "YYYY-MM-DDTHH:MM, lead's local time"}
        definitions.append(
            {
                "type": "function",
                "function": {"name": tool.value, "description": DESCRIPTIONS[tool], "parameters": schema},
            }
        )
    return definitions


def parse_arguments(tool: AgentTool, raw: str, *, lead_id: str) -> _Args:
    """The validated arguments, or ToolRefused saying what is wrong (including a lead that is not this one)."""
    try:
        data = json.loads(raw or "{}")
    except ValueError:
        raise ToolRefused("the arguments are not valid JSON") from None
    if not isinstance(data, dict):
        raise ToolRefused("the arguments must be a JSON object")
    try:
        args = ARGUMENTS[tool].model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in exc.errors())
        raise ToolRefused(f"invalid arguments: {problems}") from None
    if args.lead_id is not None and args.lead_id != lead_id:
        raise ToolRefused("this conversation can only act on its own lead; leave lead_id out")
    return args
