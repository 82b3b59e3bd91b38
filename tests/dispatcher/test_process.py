"""`python -m dispatcher` as ops run it: it listens for inbox events at a lower CPU priority, stops cleanly on
SIGTERM, and without a reachable Temporal exits non-zero saying why."""

import asyncio
import signal
import sys
from pathlib import Path

import psutil
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.config import Settings
from dispatcher.runner import LISTENER_APPLICATION_NAME
from tests.worker.test_process import worker_env
from tests.workflows.support import eventually


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
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "dispatcher", env=worker_env(settings), stderr=asyncio.subprocess.PIPE
    )
    try:
        assert await eventually(lambda: _listening(session_factory, process.pid), within=30)
        assert psutil.Process(process.pid).nice() == settings.dispatcher_niceness == 10
        # Linux's per-session scheduler groups: the group is lowered too, or the process's nice would be moot.
        assert _autogroup_nice(process.pid) in (None, "10")
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, stderr.decode()
    assert "dispatcher stopped" in stderr.decode()


async def test_the_dispatcher_process_explains_an_unreachable_temporal(settings: Settings) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dispatcher",
        env=worker_env(settings, LEADFLOW_TEMPORAL_ADDRESS="127.0.0.1:1"),
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 1
    assert "cannot connect to Temporal at 127.0.0.1:1" in stderr.decode()
