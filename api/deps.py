"""Request dependencies as `Annotated` aliases: settings, DB session (commits or rolls back), Redis, the workflow
clients.

The accessors are `async def` although they only read app state: FastAPI runs a sync dependency in its thread pool,
a thread hop per dependency per request that costs more CPU than the lookup (bench/webhook_inbound.py's profile).
"""

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from api.openapi import raises
from api.transaction import commit_request, discard_pending
from channels.whatsapp.signers import SignerCache
from core.config import Settings
from core.live_events import LiveEvents
from core.rate_limits import RateLimiter
from workflow_clients.call import CallWorkflowClient
from workflow_clients.jobs import JobWorkflowClient
from workflow_clients.lead import LeadWorkflowClient
from workflow_clients.sequence import SequenceWorkflowClient


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


# Requests that only read: their session runs each statement in autocommit (core/db.py), two round trips fewer.
READ_METHODS = frozenset({"GET", "HEAD"})


@raises(503)
async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session and one transaction per request, shared by authentication and the route: committed when the
    route returns, then the work registered to follow the commit runs (api/transaction.py); rolled back when it
    raises. A GET or HEAD gets an autocommit session instead: it reads, and each statement commits on its own."""
    state = request.app.state
    factory = state.read_session_factory if request.method in READ_METHODS else state.session_factory
    async with factory() as session:
        try:
            yield session
        except BaseException:
            discard_pending(session)
            await session.rollback()
            raise
        else:
            await commit_request(session)


@raises(503)
async def get_redis(request: Request) -> Redis:
    redis: Redis = request.app.state.redis
    return redis


def _client(name: str) -> Callable[[Request], Awaitable[Any]]:
    """A workflow client the lifespan built once (api/app.py), by its name on the app's state."""

    @raises(503)
    async def get(request: Request) -> Any:
        return getattr(request.app.state, name)

    return get


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
# scope="function": the commit happens before the response is sent, so a failed commit is never answered 2xx.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
RedisDep = Annotated[Redis, Depends(get_redis)]
LeadWorkflowsDep = Annotated[LeadWorkflowClient, Depends(_client("lead_workflows"))]
SequenceWorkflowsDep = Annotated[SequenceWorkflowClient, Depends(_client("sequence_workflows"))]
JobWorkflowsDep = Annotated[JobWorkflowClient, Depends(_client("job_workflows"))]
CallWorkflowsDep = Annotated[CallWorkflowClient, Depends(_client("call_workflows"))]
# Tells open web apps what a request changed (core/live_events.py); publish after the commit (api/transaction.py).
LiveEventsDep = Annotated[LiveEvents, Depends(_client("live_events"))]
# The rate-limit presets in Redis (core/rate_limits.py), built once by the lifespan.
RateLimitsDep = Annotated[RateLimiter, Depends(_client("rate_limits"))]
# The app secrets that verified WhatsApp Cloud deliveries a moment ago (channels/whatsapp/signers.py), per process.
WebhookSignersDep = Annotated[SignerCache, Depends(_client("webhook_signers"))]
