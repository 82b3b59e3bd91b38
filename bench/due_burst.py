"""Due-step burst benchmark (issue 16): N sends due at one moment go out at engine speed; replies stay instant.

    ./run bench due_burst [--n 10000] [--replies 20] [--baseline 500]

On a throwaway stack (bench/harness.py: Temporal, the interactive and the bulk worker, the dispatcher, the API, the
bare-engine baseline worker) plus the provider sandbox, with the sandbox's status webhooks off:

1. The bare engine first: `--baseline` timer + one-activity workflows due at one moment (bench/baseline.py), timed
   from that moment to the last completion.
2. Tenant A: N enrollments of one sender (a sandbox account) in [send, wait 1 day, send], all asleep until T0
   (`start_at`, business hours all day), started as the bulk enrollment job starts them; `--replies` more of them,
   whose leads have running lead workflows, due at T0 too. Tenant B (its own sender): one enrollment due at T0.
3. At T0 the sends fall due. Two seconds in, each replying lead writes (a signed webhook through the sandbox, the
   API, the inbox and the dispatcher).

Reported: lateness of each of A's sends beyond the pacing floor (T0 + i / LEADFLOW_WHATSAPP_SENDER_MESSAGES_PER_SECOND,
i its rank) p50/p99/max; the achieved rate (N / (last send - T0)) and its ratio to min(pacing limit, bare engine
rate), and the bare engine's CPU per workflow by process from the moment its timers fell due; workflow tasks and
activities per send (histories of up to 50 enrollments, from T0 to the last send; none for a send the scheduled-send
drain sent, its enrollment asleep past it), how many sends the drain sent and where a send's time goes between
those events (p50/p99); CPU per send by process; for the
replies, the lead writing → the stop in force (the reply's inbox row, committed before the webhook's 200: a later
send of that lead waits until it is handled), webhook acknowledged → stop recorded (the conversation's
`last_inbound_at`, which every later send checks) p50/p99 and → enrollment row exited p99, and any send to a
replying lead after its reply; B's send lateness; duplicates, lost and stuck enrollments.
Figures only: nothing here asserts a time.
"""

import argparse
import asyncio
import itertools
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from sqlalchemy import func, select
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from api.schemas.whatsapp import WhatsAppAccountUpdate
from api.services.whatsapp_accounts import put_account
from bench.baseline import measure_timer_burst
from bench.harness import (
    BenchStack,
    add_stack_arguments,
    cpu_report,
    machine_load,
    percentile,
    prepare_sandbox,
    run_and_exit,
    say,
    start_sandbox,
    wait_until_quiet,
)
from bench.tenants import bench_tenant
from channels.whatsapp.shard_router import ShardRouter
from domain.sequences.definition import parse_definition
from domain.stages import Stage
from models import Conversation, Enrollment, Lead, OutboxMessage, ScheduledSend, Sequence, SequenceVersion, Tenant
from repositories.statuses import StatusRepository
from workflow_clients.lead import LeadWorkflowClient
from workflow_clients.sequence import SequenceWorkflowClient

ALL_DAY = {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "00:00", "end": "23:59"}
DEFINITION = {
    "steps": [
        {"id": "hello", "type": "send_whatsapp", "template": {"name": "hello"}},
        {"id": "later", "type": "wait", "duration": {"days": 1}},
        {"id": "nudge", "type": "send_whatsapp", "template": {"name": "nudge"}},
    ],
    "settings": {"business_hours": ALL_DAY},
}
START_CONCURRENCY = 32


class Scene:
    def __init__(self, stack: BenchStack, sandbox_url: str) -> None:
        self.stack, self.sandbox_url = stack, sandbox_url
        self.settings = stack.settings.model_copy(update={"sandbox_base_url": sandbox_url})
        assert stack.temporal is not None and stack.session_factory is not None
        self.temporal: Client = stack.temporal
        self.sessions = stack.session_factory

    async def tenant(self, name: str, phone_number_id: str) -> tuple[Tenant, SequenceVersion, dict[str, Any]]:
        async with self.sessions() as session:
            tenant = await bench_tenant(session, name=name, slug=f"{name.lower()}-{self.stack.run_id}")
            await put_account(
                session=session,
                tenant_id=tenant.id,
                data=WhatsAppAccountUpdate(provider="sandbox", phone_number_id=phone_number_id),
                router=ShardRouter([]),
                settings=self.settings,
            )
            stages = {s.key: Stage(s.stage) for s in await StatusRepository(session).list(tenant_id=tenant.id)}
            frozen = parse_definition(DEFINITION, status_stages=stages).model_dump(mode="json")
            sequence = Sequence(
                tenant_id=tenant.id, name="burst", status="active", definition=frozen, created_by="bench"
            )
            session.add(sequence)
            await session.flush()
            version = SequenceVersion(
                tenant_id=tenant.id, sequence_id=sequence.id, version=1, definition=frozen, published_by="bench"
            )
            session.add(version)
            await session.commit()
            await session.refresh(tenant)
            await session.refresh(version)
        async with httpx.AsyncClient(base_url=self.sandbox_url) as http:
            await http.post(
                "/_sandbox/accounts/cloud",
                json={
                    "phone_number_id": phone_number_id,
                    "access_token": self.settings.whatsapp_sandbox_access_token,
                    "app_secret": self.settings.whatsapp_sandbox_app_secret,
                    "webhook_url": f"{self.stack.api_url}/webhooks/whatsapp/cloud",
                },
            )
        return tenant, version, stages

    async def enroll(
        self, tenant: Tenant, version: SequenceVersion, stages: dict[str, Any], phones: list[str], t0: datetime
    ) -> list[Enrollment]:
        async with self.sessions() as session:
            leads = [
                Lead(tenant_id=tenant.id, phone=p, name=f"Lead {p[-5:]}", source="bench", status_key="new",
                     stage="new", timezone="Europe/London", custom_fields={})
                for p in phones
            ]  # fmt: skip
            session.add_all(leads)
            await session.flush()
            enrollments = []
            for lead in leads:
                enrollment_id = uuid.uuid4()
                enrollments.append(
                    Enrollment(
                        id=enrollment_id, tenant_id=tenant.id, lead_id=lead.id, sequence_id=version.sequence_id,
                        sequence_version_id=version.id, workflow_id=f"enrollment:{tenant.slug}:{enrollment_id}",
                        status="active", enrolled_by="bench",
                    )
                )  # fmt: skip
            session.add_all(enrollments)
            await session.commit()
            for row in [*leads, *enrollments]:
                await session.refresh(row)
        client = SequenceWorkflowClient(self.temporal, self.settings)
        semaphore = asyncio.Semaphore(START_CONCURRENCY)
        by_id = {lead.id: lead for lead in leads}

        async def start(enrollment: Enrollment) -> None:
            async with semaphore:
                await client.start(
                    tenant=tenant, lead=by_id[enrollment.lead_id], enrollment=enrollment, version=version,
                    status_stages=stages, start_at=t0,
                )  # fmt: skip

        await asyncio.gather(*(start(e) for e in enrollments))
        return enrollments

    async def asleep(self, ids: list[uuid.UUID]) -> int:
        async with self.sessions() as session:
            rows = await session.execute(select(Enrollment.id).where(Enrollment.id.in_(ids), Enrollment.revision > 0))
            return len(rows.all())

    async def drained(self, ids: list[uuid.UUID]) -> int:
        """How many of these enrollments' sends the scheduled-send drain sent (the rest: from their workflow)."""
        async with self.sessions() as session:
            found = await session.scalar(
                select(func.count())
                .select_from(ScheduledSend)
                .where(ScheduledSend.enrollment_id.in_(ids), ScheduledSend.outcome["state"].astext == "sent")
            )
            return int(found or 0)

    async def messages(self) -> list[dict[str, Any]]:
        async with httpx.AsyncClient(base_url=self.sandbox_url, timeout=60) as http:
            found: list[dict[str, Any]] = (await http.get("/_sandbox/messages")).json()["messages"]
            return found


def ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


async def tasks_per_send(
    temporal: Client, workflow_ids: list[str], *, since: float, until: float
) -> tuple[float, float, dict[str, list[float]]]:
    """Workflow tasks and activities of each sampled enrollment between T0 (`since`) and the end of its burst
    (`until`), and the time between its consecutive events in that window (where the time goes: "timer fired ->
    workflow task started" is a wait for a worker's poll, "activity started -> completed" the send's own run). An
    enrollment whose send went out through the scheduled-send drain has none: it sleeps past its send."""
    counts: list[tuple[int, int]] = []
    gaps: dict[str, list[float]] = {}
    for workflow_id in workflow_ids:
        handle = temporal.get_workflow_handle(workflow_id)
        events = [
            e
            async for e in handle.fetch_history_events()
            if since <= e.event_time.ToDatetime(tzinfo=UTC).timestamp() <= until
        ]
        kinds = [EventType.Name(e.event_type) for e in events]
        counts.append(
            (kinds.count("EVENT_TYPE_WORKFLOW_TASK_COMPLETED"), kinds.count("EVENT_TYPE_ACTIVITY_TASK_SCHEDULED"))
        )
        for before, after in itertools.pairwise(events):
            hop = f"{_event_name(before)} -> {_event_name(after)}"
            seconds = after.event_time.ToDatetime().timestamp() - before.event_time.ToDatetime().timestamp()
            gaps.setdefault(hop, []).append(seconds * 1000)
    if not counts:
        return float("nan"), float("nan"), gaps
    tasks = sum(t for t, _ in counts) / len(counts)
    activities = sum(a for _, a in counts) / len(counts)
    return tasks, activities, gaps


def _event_name(event: Any) -> str:
    return EventType.Name(event.event_type).removeprefix("EVENT_TYPE_").lower().replace("_", " ")


async def main(args: argparse.Namespace) -> int:
    stack = BenchStack.from_args(args)
    sandbox_port = prepare_sandbox(stack)
    async with stack:
        sandbox_url = await start_sandbox(stack, sandbox_port, auto_status=False)
        scene = Scene(stack, sandbox_url)
        say(f"machine load before: {machine_load()}")

        say(f"bare engine: {args.baseline} timer + one-activity workflows due at once")
        bare_cpu: list[dict[str, float]] = []
        bare = await measure_timer_burst(
            scene.temporal,
            n=args.baseline,
            lead_seconds=max(20.0, args.baseline / 20),
            at_fire=lambda: bare_cpu.append(stack.cpu_seconds()),
        )
        bare_cpu.append(stack.cpu_seconds())
        say(f"bare engine: {bare:.1f} workflows/s")

        busy, busy_version, busy_stages = await scene.tenant("Busy", "100000000000001")
        other, other_version, other_stages = await scene.tenant("Other", "100000000000002")
        n, r = args.n, args.replies
        t0 = datetime.now(UTC) + timedelta(seconds=30 + (n + r) / 12)
        say(f"enrolling {n} + {r} leads of one tenant and 1 of another, all due at {t0.isoformat()}")
        burst_phones = [f"+4477009{i:05d}" for i in range(n)]
        reply_phones = [f"+4477008{i:05d}" for i in range(r)]
        burst = await scene.enroll(busy, busy_version, busy_stages, burst_phones, t0)
        repliers = await scene.enroll(busy, busy_version, busy_stages, reply_phones, t0)
        lonely = await scene.enroll(other, other_version, other_stages, ["+447700799999"], t0)
        leads = LeadWorkflowClient(scene.temporal, scene.settings)
        async with scene.sessions() as session:
            for enrollment in repliers:
                lead = await session.get(Lead, enrollment.lead_id)
                assert lead is not None
                await leads.start(tenant=busy, lead=lead)
        all_ids = [e.id for e in (*burst, *repliers, *lonely)]
        while await scene.asleep(all_ids) < len(all_ids):
            if datetime.now(UTC) > t0:
                say("not every enrollment was asleep by T0: the figures include their starts")
                break
            await asyncio.sleep(1)
        await wait_until_quiet(
            stack,
            names=("temporal", "worker", "worker-bulk"),
            within=max(5.0, (t0 - datetime.now(UTC)).total_seconds() - 5),
        )
        wait = (t0 - datetime.now(UTC)).total_seconds()
        say(f"all asleep; {wait:.0f} s to T0; machine load {machine_load()}")
        await asyncio.sleep(max(0.0, wait))
        stack.start_profiles()  # `--profile`: the burst, not the start-up and enrolling
        before = stack.cpu_seconds()

        # Two seconds into the burst, the replying leads write.
        await asyncio.sleep(2.0)
        acknowledged: dict[str, float] = {}
        written: dict[str, float] = {}
        async with httpx.AsyncClient(base_url=sandbox_url, timeout=30) as http:

            async def writes(phone: str) -> None:
                written[phone] = time.time()
                answer = await http.post(
                    "/_sandbox/inbound",
                    json={"from": phone, "text": "No thanks", "phone_number_id": "100000000000001"},
                )
                if answer.status_code == 200 and answer.json()["delivery"]["status_code"] == 200:
                    acknowledged[phone] = time.time()
                else:
                    say(f"inbound from {phone} not acknowledged: {answer.status_code} {answer.text[:300]}")

            await asyncio.gather(*(writes(p) for p in reply_phones))
        stop_seen: dict[str, float] = {}
        exited_seen: dict[str, float] = {}
        replier_leads = {e.lead_id: e for e in repliers}
        phone_of = dict(zip([e.lead_id for e in repliers], reply_phones, strict=True))
        deadline = time.time() + 60 + n / 5
        while (len(stop_seen) < r or len(exited_seen) < r) and time.time() < deadline:
            async with scene.sessions() as session:
                stored = await session.execute(
                    select(Conversation.lead_id).where(
                        Conversation.lead_id.in_(list(replier_leads)), Conversation.last_inbound_at.is_not(None)
                    )
                )
                for lead_id in stored.scalars():
                    stop_seen.setdefault(phone_of[lead_id], time.time())
                ended = await session.execute(
                    select(Enrollment.lead_id).where(
                        Enrollment.id.in_([e.id for e in repliers]), Enrollment.status == "exited"
                    )
                )
                for lead_id in ended.scalars():
                    exited_seen.setdefault(phone_of[lead_id], time.time())
            await asyncio.sleep(0.05)

        # The burst drains.
        while True:
            messages = await scene.messages()
            sent = {m["to"] for m in messages}
            if all(p in sent for p in burst_phones) or time.time() > deadline:
                break
            await asyncio.sleep(1.0)
        after = stack.cpu_seconds()
        seconds = time.time() - t0.timestamp()

        burst_set, reply_set = set(burst_phones), set(reply_phones)
        accepted = sorted(ts(m["accepted_at"]) for m in messages if m["to"] in burst_set)
        per_second = scene.settings.whatsapp_sender_messages_per_second
        lateness = [a - (t0.timestamp() + i / per_second) for i, a in enumerate(accepted)]
        rate = len(accepted) / (accepted[-1] - t0.timestamp()) if accepted else float("nan")
        limit = min(per_second, bare)
        counts: dict[str, int] = {}
        for m in messages:
            counts[m["to"]] = counts.get(m["to"], 0) + 1
        duplicates = sum(1 for p, c in counts.items() if c > 1)
        lost = sum(1 for p in burst_phones if p not in counts)
        late = [
            m
            for m in messages
            if m["to"] in reply_set and m["to"] in acknowledged and ts(m["accepted_at"]) > acknowledged[m["to"]]
        ]
        # When each late send was decided (its outbox row's `started_at`, set in the transaction that checked for a
        # reply): before the lead wrote, the send was already under way; after the webhook's 200, it missed a stored
        # reply, which must never happen; in between, it raced the reply's own transaction.
        async with scene.sessions() as session:
            decided = dict(
                (
                    await session.execute(
                        select(OutboxMessage.provider_message_id, OutboxMessage.started_at).where(
                            OutboxMessage.provider_message_id.in_([m["id"] for m in late])
                        )
                    )
                ).all()
            )
        in_flight = racing = missed = 0
        for m in late:
            at = decided.get(m["id"])
            if at is None or at.timestamp() > acknowledged[m["to"]]:
                missed += 1
            elif at.timestamp() < written[m["to"]]:
                in_flight += 1
            else:
                racing += 1
        late_replies = (
            f"{len(late)} (decided before the lead wrote, under way: {in_flight}; while the reply was being stored: "
            f"{racing}; after it was stored: {missed})"
        )
        lonely_sent = [ts(m["accepted_at"]) for m in messages if m["to"] == "+447700799999"]
        stuck_deadline = time.time() + 60  # a send's workflow may still be finishing its step
        while True:
            async with scene.sessions() as session:
                stuck = len(
                    (
                        await session.execute(
                            select(Enrollment.id).where(
                                Enrollment.id.in_([e.id for e in burst]), Enrollment.current_step_id != "later"
                            )
                        )
                    ).all()
                )
            if stuck == 0 or time.time() > stuck_deadline:
                break
            await asyncio.sleep(1.0)
        sample = [e.workflow_id for e in burst[:: max(1, n // 50)]][:50]
        burst_end = (accepted[-1] if accepted else time.time()) + 5
        tasks, activities, gaps = await tasks_per_send(scene.temporal, sample, since=t0.timestamp(), until=burst_end)
        drained = await scene.drained([e.id for e in burst])

        print(f"burst: {n} sends due at T0 from one sender, pacing {per_second}/s; {r} replies; 1 other tenant's send")
        print(f"bare engine: {bare:.1f} timer+activity workflows/s ({args.baseline} due at once)")
        bare_report = cpu_report(*bare_cpu, seconds=args.baseline / bare, operations=args.baseline, unit="workflow")
        print(f"bare engine CPU from the moment they fell due: {bare_report}")
        print(
            f"achieved: {rate:.1f} sends/s, ratio {rate / limit:.2f} to min(pacing {per_second}, bare {bare:.1f}); "
            f"last send {accepted[-1] - t0.timestamp():.1f} s after T0"
            if accepted
            else "no send went out"
        )
        print(
            f"lateness beyond the pacing floor: p50 {percentile(lateness, 50):.1f} s, "
            f"p99 {percentile(lateness, 99):.1f} s, max {max(lateness, default=float('nan')):.1f} s"
        )
        print(
            f"per send: {tasks:.1f} workflow tasks, {activities:.1f} activities from T0 to the last send + 5 s "
            f"(histories of {len(sample)}); sent by the scheduled-send drain: {drained} of {n}"
        )
        print("where a send's time goes (the same histories, event to event):")
        for hop, values in gaps.items():
            print(f"  {hop}: p50 {percentile(values, 50):.0f} ms, p99 {percentile(values, 99):.0f} ms ({len(values)})")
        in_force = [(acknowledged[p] - written[p]) * 1000 for p in acknowledged]
        stops = [(stop_seen[p] - acknowledged[p]) * 1000 for p in acknowledged if p in stop_seen]
        exits = [(exited_seen[p] - acknowledged[p]) * 1000 for p in acknowledged if p in exited_seen]
        print(
            f"replies: {len(acknowledged)}/{r} acknowledged; lead writes -> stop in force (the reply stored in the "
            f"inbox before the 200; every later send of the lead waits on it) p50 {percentile(in_force, 50):.0f} ms, "
            f"p99 {percentile(in_force, 99):.0f} ms; webhook acknowledged -> stop recorded p50 "
            f"{percentile(stops, 50):.0f} ms, p99 {percentile(stops, 99):.0f} ms ({len(stops)}); -> enrollment exited "
            f"p50 {percentile(exits, 50):.0f} ms, p99 {percentile(exits, 99):.0f} ms ({len(exits)}); sends to a "
            f"replying lead after its reply: {late_replies}"
        )
        print(
            f"other tenant's send: {lonely_sent[0] - t0.timestamp():.2f} s after T0"
            if lonely_sent
            else "other tenant's send: not sent"
        )
        print(f"duplicates {duplicates}, lost {lost}, stuck {stuck}")
        print(cpu_report(before, after, seconds=seconds, operations=max(1, len(accepted)), unit="send"))
        print(f"machine load after: {machine_load()}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--replies", type=int, default=20)
    parser.add_argument("--baseline", type=int, default=500)
    add_stack_arguments(parser)
    run_and_exit(main(parser.parse_args()))
