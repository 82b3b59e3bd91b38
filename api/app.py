"""The FastAPI application factory. Clients (DB engine, Redis, Temporal) are built once in the lifespan."""

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from api.auth.resolve import RecentKeyUses
from api.body_limit import BodyLimitMiddleware
from api.cors import CorsMiddleware, rules_for
from api.docs import install_docs
from api.errors import install_error_handlers
from api.metrics import RATE_LIMIT_REFUSALS
from api.openapi import install_openapi
from api.outer_middleware import install_outer_middleware
from api.request_context import RequestContextMiddleware
from api.routes import (
    admin_inbox,
    ai,
    api_keys,
    auth,
    calls,
    codec,
    conversations,
    enrollments,
    events,
    feature_flags,
    health,
    jobs,
    leads,
    metrics,
    notifications,
    sequences,
    statuses,
    tasks,
    telephony,
    tenants,
    users,
    webhooks_twilio,
    webhooks_whatsapp,
    whatsapp_accounts,
)
from api.security_headers import SecurityHeadersMiddleware
from api.web import install_web
from api.webhook_limits import limit_webhook_source
from channels.whatsapp.signers import SignerCache
from core.config import Settings, get_settings
from core.db import create_engine, create_read_session_factory, create_session_factory, warm_pool
from core.feature_flags import FeatureFlagReader
from core.live_events import LiveEvents
from core.payload_codec import EncryptionCodec
from core.process import freeze_startup_heap
from core.profiling import log_gc_pauses
from core.rate_limits import RateLimiter
from core.redis import Keys, create_redis
from core.temporal import connect_temporal
from core.tracing import configure_tracing
from workflow_clients.call import CallWorkflowClient
from workflow_clients.jobs import JobWorkflowClient
from workflow_clients.lead import LeadWorkflowClient
from workflow_clients.sequence import SequenceWorkflowClient


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_tracing(settings, service="api")
        engine = create_engine(settings)
        app.state.engine = engine
        await warm_pool(engine, settings.db_pool_size)
        app.state.session_factory = create_session_factory(engine)
        app.state.read_session_factory = create_read_session_factory(engine)
        app.state.redis = create_redis(settings)
        app.state.payload_codec = EncryptionCodec.for_settings(settings)
        app.state.rate_limits = RateLimiter(
            app.state.redis,
            Keys(settings.redis_prefix),
            settings,
            on_refusal=lambda preset: RATE_LIMIT_REFUSALS.labels(preset).inc(),
        )
        app.state.webhook_signers = SignerCache(settings.whatsapp_signer_cache_seconds)
        app.state.feature_flags = FeatureFlagReader(
            app.state.session_factory, ttl_seconds=settings.feature_flag_cache_seconds
        )
        app.state.temporal = await connect_temporal(settings, lazy=True)
        app.state.lead_workflows = LeadWorkflowClient(app.state.temporal, settings)
        app.state.sequence_workflows = SequenceWorkflowClient(app.state.temporal, settings)
        app.state.job_workflows = JobWorkflowClient(app.state.temporal)
        app.state.live_events = LiveEvents(app.state.redis, Keys(settings.redis_prefix))
        app.state.call_workflows = CallWorkflowClient(app.state.temporal)
        if settings.gc_pauses_file:
            log_gc_pauses(settings.gc_pauses_file)
        freeze_startup_heap()  # the modules, the app, its routes and clients: walked by no full collection
        try:
            yield
        finally:
            gc.unfreeze()
            await app.state.redis.aclose()
            await engine.dispose()

    app = FastAPI(title="Leadflow", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.recent_key_uses = RecentKeyUses()
    install_error_handlers(app)
    install_openapi(app)
    install_docs(app)
    app.include_router(health.router)
    app.include_router(codec.router)
    app.include_router(metrics.router)
    for api_routes in (
        *(auth, tenants, users, api_keys, statuses),
        *(conversations, whatsapp_accounts),
        *(leads, sequences, enrollments, tasks, jobs, telephony, calls),
        *(admin_inbox, events, notifications, feature_flags, ai),
    ):
        app.include_router(api_routes.router, prefix="/api/v1")
    # Deliveries per sender address before anything else is read (api/webhook_limits.py).
    app.include_router(webhooks_whatsapp.router, dependencies=[Depends(limit_webhook_source)])
    app.include_router(webhooks_twilio.router, dependencies=[Depends(limit_webhook_source)])
    install_web(app, settings.web_dist_dir)
    app.add_middleware(
        BodyLimitMiddleware,
        max_json_bytes=settings.api_max_body_bytes,
        max_upload_bytes=settings.lead_import_max_bytes,
    )
    hsts = settings.hsts_max_age_seconds if settings.env == "prod" else None
    cors_rules = rules_for(api_origins=settings.cors_allowed_origins, codec_origin=settings.temporal_ui_url)
    install_outer_middleware(
        app,
        RequestContextMiddleware,
        lambda inner: SecurityHeadersMiddleware(inner, hsts_max_age_seconds=hsts),
        lambda inner: CorsMiddleware(inner, rules=cors_rules),
    )
    return app
