"""One AI turn against the model: call it, run the tool calls it asks for, at most `max_rounds` rounds, and end in a
structured decision (reply text, handoff, or no reply). No database here: the caller passes a tool runner and a
usage recorder, so the activity and the evaluation run the very same loop.
"""

import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import openai

from agent.config import AgentConfig
from agent.pricing import estimate_cost
from agent.tools import ToolRefused, parse_arguments, tool_definitions
from domain.ai_agent import AgentTool
from workflows.ai_types import AiDecisionKind


@dataclass(frozen=True, slots=True)
class CallUsage:
    model: str
    input_tokens: int
    cached_tokens: int
    output_tokens: int
    latency_ms: int
    round: int

    @classmethod
    def of(cls, completion: Any, config: AgentConfig, *, latency_ms: int, round: int) -> "CallUsage":
        """What a chat completion used, as its answer reports it (zeros where it reports nothing)."""
        usage = completion.usage
        details = usage.prompt_tokens_details if usage else None
        return cls(
            model=completion.model or config.model,
            input_tokens=usage.prompt_tokens if usage else 0,
            cached_tokens=(details.cached_tokens or 0) if details else 0,
            output_tokens=usage.completion_tokens if usage else 0,
            latency_ms=latency_ms,
            round=round,
        )

    def usage_row(
        self, *, tenant_id: uuid.UUID, lead_id: uuid.UUID, settings_version: int, purpose: str, call_key: str
    ) -> dict[str, Any]:
        """The call's `ai_usage` row, its cost estimated from the model's price."""
        return {
            "tenant_id": tenant_id,
            "lead_id": lead_id,
            "settings_version": settings_version,
            "purpose": purpose,
            "model": self.model,
            "input_tokens": self.input_tokens,
            "cached_tokens": self.cached_tokens,
            "output_tokens": self.output_tokens,
            "latency_ms": self.latency_ms,
            "cost_usd": estimate_cost(
                self.model,
                input_tokens=self.input_tokens,
                cached_tokens=self.cached_tokens,
                output_tokens=self.output_tokens,
            ),
            "call_key": call_key,
        }


async def complete(
    client: openai.AsyncOpenAI,
    config: AgentConfig,
    messages: list[dict[str, Any]],
    *,
    lead_id: object,
    tools: list[dict[str, Any]] | None = None,
) -> Any:
    """One chat completion with the agent's model settings; `tools`, when any, offered one call at a time."""
    options: dict[str, Any] = {"tools": tools, "tool_choice": "auto", "parallel_tool_calls": False} if tools else {}
    return await client.chat.completions.create(
        model=config.model,
        messages=messages,  # type: ignore[arg-type]
        temperature=config.temperature,
        max_completion_tokens=config.max_output_tokens,
        safety_identifier=f"lead:{lead_id}",
        **options,
    )


@dataclass(frozen=True, slots=True)
class ToolRun:
    name: str
    ok: bool
    result: Any


@dataclass(slots=True)
class TurnOutcome:
    kind: AiDecisionKind
    text: str = ""
    reason: str = ""
    tools: list[ToolRun] = field(default_factory=list)

    def tool_texts(self) -> list[str]:
        return [json.dumps(run.result, default=str) for run in self.tools if run.ok]


class ToolRunner(Protocol):
    async def run(self, tool: AgentTool, args: Any) -> dict[str, Any]:
        """Carry out one validated tool call for the turn's lead; raise ToolRefused for a refusal the model reads."""
        ...


async def run_turn(
    client: openai.AsyncOpenAI,
    config: AgentConfig,
    messages: list[dict[str, Any]],
    tools: ToolRunner,
    *,
    lead_id: str,
    status_keys: list[str],
    max_rounds: int,
    record_usage: Callable[[CallUsage], Awaitable[None]],
) -> TurnOutcome:
    """Raises the SDK's errors (rate limit, server error, timeout) for the caller's retry policy to judge."""
    outcome = TurnOutcome(kind=AiDecisionKind.NO_REPLY)
    definitions = tool_definitions(config.tools, status_keys)
    conversation = list(messages)
    for number in range(1, max_rounds + 2):
        started = time.monotonic()
        offered = definitions if number <= max_rounds else None
        completion = await complete(client, config, conversation, lead_id=lead_id, tools=offered)
        latency_ms = int((time.monotonic() - started) * 1000)
        await record_usage(CallUsage.of(completion, config, latency_ms=latency_ms, round=number))
        message = completion.choices[0].message
        calls = [c for c in message.tool_calls or [] if c.type == "function"]
        if not calls:
            text = (message.content or "").strip()
            outcome.kind = AiDecisionKind.REPLY if text else AiDecisionKind.NO_REPLY
            outcome.text = text
            outcome.reason = outcome.reason or ("the model chose not to answer" if not text else "")
            return outcome
        conversation.append(
            {
                "role": "assistant",
                "content": message.content,
                "tool_calls": [
                    {
                        "id": c.id,
                        "type": "function",
                        "function": {"name": c.function.name, "arguments": c.function.arguments},
                    }
                    for c in calls
                ],
            }
        )
        for call in calls:
            result = await _run_tool(tools, config, call.function.name, call.function.arguments, lead_id=lead_id)
            outcome.tools.append(result)
            conversation.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps(result.result)})
            if result.ok and call.function.name == AgentTool.HANDOFF_TO_HUMAN:
                outcome.kind = AiDecisionKind.HANDOFF
                outcome.reason = str(result.result.get("reason", "handed off to a person"))
                return outcome
    outcome.reason = f"no answer after {max_rounds} tool rounds"
    return outcome


async def _run_tool(tools: ToolRunner, config: AgentConfig, name: str, raw: str, *, lead_id: str) -> ToolRun:
    try:
        tool = AgentTool(name)
    except ValueError:
        return ToolRun(name=name, ok=False, result={"error": f"there is no tool named {name!r}"})
    if tool not in config.tools:
        return ToolRun(name=name, ok=False, result={"error": f"the tool {name!r} is not enabled for this business"})
    try:
        args = parse_arguments(tool, raw, lead_id=lead_id)
        return ToolRun(name=name, ok=True, result=await tools.run(tool, args))
    except ToolRefused as refused:
        return ToolRun(name=name, ok=False, result={"error": str(refused)})
