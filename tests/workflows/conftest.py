"""Fixtures of the SequenceWorkflow tests: the time-skipping server with the real worker, and a sandbox tenant."""

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from core.config import Settings
from tests.workflows.sequence_support import SequenceWorld, make_world, time_skipping_worker


@pytest.fixture
async def env(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession], sandbox_url: str
) -> AsyncIterator[WorkflowEnvironment]:
    async for environment in time_skipping_worker(settings, session_factory, sandbox_url):
        yield environment


@pytest.fixture
async def world(
    session_factory: async_sessionmaker[AsyncSession], settings: Settings, sandbox_control: httpx.AsyncClient
) -> SequenceWorld:
    return await make_world(session_factory, settings, sandbox_control)
