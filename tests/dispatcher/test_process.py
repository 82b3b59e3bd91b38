"""`python -m dispatcher` as ops run it: it listens for inbox events at a lower CPU priority, stops cleanly on
SIGTERM, and without a reachable Temporal exits non-zero saying why."""

from pathlib import Path

import psutil
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.config import Settings
from dispatcher.runner import LISTENER_APPLICATION_NAME
from tests.fixtures.module_process import assert_explains_an_unreachable_temporal, run_until_ready_then_sigterm


async def _listening(session_factory: async_sessionmaker[AsyncSession], pid: int) -> bool:
    """Whether the process's LISTEN connection shows up (its backend's client is one of the process's sockets)."""
    async with session_factory() as session:
        ports = (
            (
                await session.execute(
                    text("SELECT client_port FROM pg_stat_activity WHERE application_name = :name"),
                    {"name": LISTENER_APPLICATION_NAME},
                )
            )
            .scalars()
            .all()
        )
    local_ports = {c.laddr.port for c in psutil.Process(pid).net_connections(kind="tcp") if c.laddr}
    return bool(local_ports.intersection(ports))


def _autogroup_nice(pid: int) -> str | None:
    """The nice of the process's scheduler group; None where Linux does not group it (no autogroup, or the
    process sits in a cgroup of its own, as in a container, when the file reads empty)."""
    autogroup = Path(f"/proc/{pid}/autogroup")
    fields = autogroup.read_text().split() if autogroup.exists() else []
    return fields[-1] if fields else None


async def test_the_dispatcher_process_listens_at_a_lower_priority_and_stops_cleanly_on_sigterm(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    def runs_at_a_lower_priority(pid: int) -> None:
        assert psutil.Process(pid).nice() == settings.dispatcher_niceness == 10
        # Linux's per-session scheduler groups: the group is lowered too, or the process's nice would be moot.
        assert _autogroup_nice(pid) in (None, "10")

    code, stderr = await run_until_ready_then_sigterm(
        "dispatcher", settings, lambda pid: _listening(session_factory, pid), runs_at_a_lower_priority
    )
    assert code == 0, stderr
    assert "dispatcher stopped" in stderr


async def test_the_dispatcher_process_explains_an_unreachable_temporal(settings: Settings) -> None:
    await assert_explains_an_unreachable_temporal("dispatcher", settings)
