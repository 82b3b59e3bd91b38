"""Score the AI agent's decisions against `evals/conversations.json`: reply (from the facts), which tool, handoff,
no reply, or a draft the facts guardrail holds. The same turn loop, prompt, tools and guardrail as the lead
workflow's activity (agent/), with the tools carried out in memory.

Without `LEADFLOW_AI_EVAL_API_KEY` it runs against the sandbox model, started in this process (the plumbing must
score 100%); with it, against `LEADFLOW_AI_EVAL_BASE_URL` (default `LEADFLOW_AI_DEFAULT_BASE_URL`) and
`LEADFLOW_AI_EVAL_MODEL`, to measure a real model on the same file.
"""

import asyncio
import json
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openai

from agent.config import AgentConfig
from agent.guardrail import check_reply
from agent.prompt import ConversationLine, LeadFacts, build_messages, fact_lines
from agent.tools import HandoffArgs, ScheduleCallbackArgs, SetStatusArgs
from agent.turn import CallUsage, run_turn
from core.config import Settings
from domain.ai_agent import AgentMode, AgentTool
from sandbox.app import create_app
from sandbox.config import SandboxConfig
from sandbox.server_thread import ServerThread
from workflows.ai_types import AiDecisionKind

CONVERSATIONS = Path(__file__).resolve().parent / "conversations.json"
SANDBOX_KEY = "eval-sandbox-key"


@dataclass
class Outcome:
    id: str
    category: str
    expected: dict[str, Any]
    decision: str
    tools: list[str]
    text: str
    passed: bool
    why: str = ""


@dataclass
class MemoryTools:
    """Tools carried out in memory: they answer as the real ones would and remember what was asked."""

    lead: dict[str, Any]
    called: list[str] = field(default_factory=list)

    async def run(self, tool: AgentTool, args: Any) -> dict[str, Any]:
        self.called.append(tool.value)
        if tool == AgentTool.GET_LEAD:
            return {"name": self.lead["name"], "status": self.lead["status"], "source": self.lead["source"]}
        if isinstance(args, SetStatusArgs):
            return {"ok": True, "status": args.status}
        if isinstance(args, HandoffArgs):
            return {"ok": True, "reason": args.reason}
        if isinstance(args, ScheduleCallbackArgs):
            return {"ok": True, "at_local": f"{args.at_local:%Y-%m-%dT%H:%M}", "timezone": self.lead["timezone"]}
        return {"ok": True, "stopped": 1}


def _config(data: dict[str, Any], *, base_url: str, api_key: str, model: str) -> AgentConfig:
    return AgentConfig(
        tenant_id=uuid.UUID(int=0),
        version=1,
        mode=AgentMode.AUTO,
        model=model,
        base_url=base_url,
        api_key=api_key,
        system_prompt=data["system_prompt"],
        facts=data["facts"],
        temperature=0.0,
        max_output_tokens=300,
        tools=tuple(AgentTool),
        answer_hours=None,
        debounce_seconds=0,
        draft_timeout_minutes=60,
        monthly_token_budget_soft=None,
        monthly_token_budget_hard=None,
    )


def _judge(expected: dict[str, Any], decision: str, tools: list[str], text: str) -> tuple[bool, str]:
    if decision != expected["decision"]:
        return False, f"decision {decision}, expected {expected['decision']}"
    missing = [tool for tool in expected.get("tools", []) if tool not in tools]
    if missing:
        return False, f"did not call {', '.join(missing)} (called {', '.join(tools) or 'nothing'})"
    contains = expected.get("reply_contains")
    if contains and contains.lower() not in text.lower():
        return False, f"the reply does not say {contains!r}"
    return True, ""


def load(path: Path = CONVERSATIONS) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


async def evaluate(*, base_url: str, api_key: str, model: str, data: dict[str, Any] | None = None) -> list[Outcome]:
    data = data or load()
    config = _config(data, base_url=base_url, api_key=api_key, model=model)
    lead = data["lead"]
    facts = LeadFacts(
        name=lead["name"],
        status=lead["status"],
        stage=lead["stage"],
        source=lead["source"],
        custom_fields={},
        timezone=lead["timezone"],
    )
    client = openai.AsyncOpenAI(api_key=api_key, base_url=base_url, max_retries=2, timeout=60)
    outcomes = []

    async def no_usage(call: CallUsage) -> None:
        return None

    try:
        for case in data["conversations"]:
            lines = [ConversationLine(inbound=m["role"] == "user", text=m["text"]) for m in case["messages"]]
            messages = build_messages(config, facts, lines, datetime.now(ZoneInfo(lead["timezone"])))
            tools = MemoryTools(lead=lead)
            turn = await run_turn(
                client,
                config,
                messages,
                tools,
                lead_id=f"eval-{case['id']}",
                status_keys=data["statuses"],
                max_rounds=4,
                record_usage=no_usage,
            )
            decision = turn.kind.value
            if turn.kind == AiDecisionKind.REPLY:
                allowed = fact_lines(config.facts) + turn.tool_texts() + [line.text for line in lines if line.inbound]
                if not check_reply(turn.text, allowed=allowed).ok:
                    decision = "draft"
            passed, why = _judge(case["expect"], decision, tools.called, turn.text)
            outcomes.append(
                Outcome(case["id"], case["category"], case["expect"], decision, tools.called, turn.text, passed, why)
            )
    finally:
        await client.close()
    return outcomes


def report(outcomes: list[Outcome]) -> str:
    by_category: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        by_category[outcome.category].append(outcome)
    lines = [f"{'category':<12} {'passed':>8} {'accuracy':>9}"]
    for category, items in sorted(by_category.items()):
        passed = sum(o.passed for o in items)
        lines.append(f"{category:<12} {passed:>4}/{len(items):<3} {100 * passed / len(items):>8.1f}%")
    total = sum(o.passed for o in outcomes)
    lines.append(f"{'all':<12} {total:>4}/{len(outcomes):<3} {100 * total / len(outcomes):>8.1f}%")
    for outcome in outcomes:
        if not outcome.passed:
            lines.append(f"  FAILED {outcome.id}: {outcome.why}")
    return "\n".join(lines)


def _sandbox_app(url: str) -> Any:
    """The provider sandbox whose model the evaluation talks to when no real model is configured."""
    config = SandboxConfig(
        base_url=url,
        access_token="eval",
        app_secret="eval",
        phone_number_id="0",
        evolution_api_key="eval",
        openai_api_key=SANDBOX_KEY,
    )
    return create_app(config)


def main() -> int:
    settings = Settings()
    if settings.ai_eval_api_key:
        base_url = settings.ai_eval_base_url or settings.ai_default_base_url
        print(f"AI agent evaluation against {base_url} ({settings.ai_eval_model})")
        outcomes = asyncio.run(
            evaluate(base_url=base_url, api_key=settings.ai_eval_api_key, model=settings.ai_eval_model)
        )
        print(report(outcomes))
        return 0
    with ServerThread(_sandbox_app) as sandbox:
        print("AI agent evaluation against the sandbox model (set LEADFLOW_AI_EVAL_API_KEY for a real one)")
        outcomes = asyncio.run(evaluate(base_url=f"{sandbox.url}/v1", api_key=SANDBOX_KEY, model="sandbox-model"))
    print(report(outcomes))
    return 0 if all(o.passed for o in outcomes) else 1
