"""The configuration SSOT: every setting Leadflow reads, and the only module that reads the environment."""

from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, Field, IPvAnyNetwork, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.opt_out import DEFAULT_OPT_OUT_KEYWORDS

PLACEHOLDER_SECRET = "change-me"
BUILT_IN_ADMIN_PASSWORD = "leadflow-admin"


class EvolutionShard(BaseModel):
    """One Evolution API instance tenants can be assigned to (channels/whatsapp/shard_router.py)."""

    name: str
    base_url: str
    instance: str
    api_key: str


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEADFLOW_", extra="ignore")

    env: Literal["dev", "test", "prod"] = "dev"
    log_level: str = "INFO"
    # json: one JSON object a line with request/tenant/lead/workflow ids (core/logging.py); text: for a terminal.
    log_format: Literal["json", "text"] = "json"

    # Stores. None means "not given": the dev stack then starts private instances.
    database_url: str | None = None
    redis_url: str | None = None
    redis_prefix: str = "leadflow"
    db_pool_size: int = 10
    # A database that stops answering (host gone, network partition) must fail a request fast enough that it can
    # still be answered 503: psycopg otherwise waits 130 s for a connection, long past any client's patience.
    db_connect_timeout_seconds: int = Field(default=5, ge=2)

    # Temporal
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_ui_url: str = "http://127.0.0.1:8233"

    # HTTP
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    public_base_url: str = "http://127.0.0.1:8000"
    # The built web app (`npm run build` in web/) the API serves at `/`; relative paths are from the checkout.
    web_dist_dir: str = "web/dist"
    # Proxies in front of the API (JSON list of addresses or networks, e.g. '["10.0.0.0/8"]'). The client address is
    # the socket peer unless it is one of these, then the right-most X-Forwarded-For entry that is not (see
    # api/client_address.py). Empty: X-Forwarded-For is ignored, so a client cannot pick its address.
    trusted_proxies: list[IPvAnyNetwork] = []
    # Browser origins allowed to call the API from another origin (JSON list, e.g. '["https://crm.example.com"]').
    # The web app is served by the API itself and needs none; empty: no cross-origin caller is allowed.
    cors_allowed_origins: list[str] = []
    # Metrics (GET /metrics on the API; the worker's Prometheus endpoint). A token, when set, is required as a bearer
    # token to scrape the API. The multiprocess directory is for `python -m api --workers N`: each worker writes its
    # samples there and a scrape adds them up (emptied at start). The worker serves the Temporal SDK's metrics and
    # the activities' business metrics on host:port when the port is set.
    metrics_token: str | None = None
    metrics_multiproc_dir: str | None = None
    worker_metrics_host: str = "127.0.0.1"
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    # A sampling profile of the process's Python threads, written to this file (core/profiling.py); off when unset.
    profile_samples_file: str | None = None
    profile_interval_ms: float = Field(default=10.0, gt=0)
    # A line per garbage collection (its generation and pause) in this file (core/profiling.py); off when unset.
    gc_pauses_file: str | None = None
    # The webhook dispatcher's Prometheus endpoint (dispatcher/metrics.py) on host:port when the port is set.
    dispatcher_metrics_host: str = "127.0.0.1"
    dispatcher_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    # OpenTelemetry traces (core/tracing.py): an OTLP/HTTP collector's base URL; unset, nothing is exported.
    otel_exporter_otlp_endpoint: str | None = None
    # Strict-Transport-Security max-age, sent in prod only (dev and tests run on plain http).
    hsts_max_age_seconds: int = Field(default=2 * 365 * 24 * 3600, ge=0)

    # WhatsApp providers (clients in providers/whatsapp)
    meta_graph_base_url: str = "https://graph.facebook.com"
    meta_graph_version: str = "v23.0"
    whatsapp_http_timeout_seconds: float = Field(default=10.0, gt=0)
    evolution_send_delay_ms: int = Field(default=1200, ge=0)

    # Twilio Programmable Voice (providers/twilio): the REST API's base URL (the sandbox's for provider "sandbox")
    twilio_api_base_url: str = "https://api.twilio.com"
    twilio_http_timeout_seconds: float = Field(default=10.0, gt=0)

    # Calls (channels/voice): a placement sent to Twilio whose answer was lost is not sent again until its first
    # callback names the SID or, past the window, a look-up at Twilio finds nothing; re-runs meanwhile retry every
    # poll. Call slots: leases of this many seconds (renewed while a call lives; a dead worker's slot frees itself),
    # at most this many calls at once over all tenants; a waiting call silent this long loses its place in line.
    call_place_reconcile_window_seconds: float = Field(default=30.0, ge=0)
    call_place_reconcile_poll_seconds: float = Field(default=2.0, gt=0)
    call_global_concurrent_limit: int = Field(default=100, ge=1)
    call_slot_lease_seconds: float = Field(default=60.0, ge=5)
    # A waiter is woken when its turn may have come and asks again on its own every third of the TTL (its history
    # grows by about ten events a question): minutes, not seconds.
    call_slot_waiter_ttl_seconds: float = Field(default=180.0, ge=5)
    # The AI voice agent's model call per caller utterance; slower, the scripted prompt answers that turn (the
    # voice reply activity itself times out at 4 s, Twilio's webhook at 15 s).
    call_ai_reply_timeout_seconds: float = Field(default=2.5, gt=0, le=3.5)

    # Provider sandbox (python -m sandbox): the local default provider and the tests' double, state in memory
    sandbox_host: str = "127.0.0.1"
    sandbox_port: int = 8025
    sandbox_base_url: str | None = None  # None: http://{sandbox_host}:{sandbox_port}
    whatsapp_sandbox_access_token: str = "sandbox-access-token"
    whatsapp_sandbox_app_secret: str = "sandbox-app-secret"
    whatsapp_sandbox_phone_number_id: str = "109876543210987"
    whatsapp_sandbox_evolution_api_key: str = "sandbox-evolution-api-key"
    openai_sandbox_api_key: str = "sandbox-openai-key"  # the key the sandbox model (`{sandbox}/v1`) accepts
    # Webhook deliveries handled at once per API process; past it a delivery gets a fast 503 + Retry-After and the
    # provider redelivers later, instead of every request queueing for the database until all of them time out.
    webhook_max_in_flight: int = Field(default=48, ge=1)
    # How long an API process trusts the app secret that verified a WhatsApp Cloud account's last delivery
    # (channels/whatsapp/signers.py): a burst verifies without reading the account each time. A secret replaced
    # meanwhile still verifies for at most this long; the new one verifies at once. 0: read the account every time.
    whatsapp_signer_cache_seconds: float = Field(default=5.0, ge=0, le=60)
    # Webhook inbox dispatcher (python -m dispatcher): events claimed per batch, handled at once per process, how
    # long a claim holds before another dispatcher may take the event, the poll behind LISTEN/NOTIFY, the failed
    # attempts (other than outages) after which an event is parked, and how long handled events are kept.
    inbox_batch_size: int = Field(default=64, ge=1)
    inbox_concurrency: int = Field(default=32, ge=1)
    inbox_lease_seconds: float = Field(default=60.0, gt=0)
    inbox_poll_seconds: float = Field(default=2.0, gt=0)
    inbox_max_attempts: int = Field(default=8, ge=1)
    inbox_retention_hours: float = Field(default=72.0, gt=0)
    # One person's events waiting back to back (a chatty lead, or a backlog) are claimed and handled together, up to
    # this many: one transaction, one signal to the lead's workflow. 1: each event on its own. At most the number of
    # message ids a lead workflow remembers to recognise a repeated signal (RECENT_INBOUND_IDS, workflows/lead.py).
    inbox_run_max_events: int = Field(default=20, ge=1, le=20)
    # While webhooks arrive faster than this (per second, as the inbox's notifications count them; 0: never), each
    # dispatcher handles at most `inbox_rate_under_burst` events a second: acknowledging comes first on a saturated
    # host, and the backlog drains at full concurrency once the burst is over. A burst longer than
    # `inbox_yield_max_seconds` is sustained load, not a burst: the dispatcher goes back to full concurrency.
    inbox_yield_above_per_second: float = Field(default=100.0, ge=0)
    inbox_rate_under_burst: float = Field(default=10.0, gt=0)
    inbox_yield_max_seconds: float = Field(default=120.0, gt=0)
    # CPU priority of the dispatcher process (`nice`, 0-19). Acknowledging webhooks is the latency-critical path;
    # on a host shared with the API, the dispatcher drains a burst with the CPU the acknowledgements leave over.
    dispatcher_niceness: int = Field(default=10, ge=0, le=19)
    # Worker processes (worker/main.py). `python -m worker` polls the task queues named here (`--queues` overrides):
    # `interactive` (lead workflows, webhooks' and agents' signals and updates, AI and call turns) and `bulk` (sequence
    # enrollments and their sends). `./run up`, the benchmarks and the production compose file run one process each,
    # so a burst of due sends never takes the interactive side's CPU, slots or cache; the bulk process lowers its CPU
    # priority like the dispatcher. Workflow cache, sticky timeout and slots per queue are sized for due-step bursts
    # (README, "Due-step bursts").
    worker_queues: list[Literal["interactive", "bulk"]] = ["interactive", "bulk"]
    worker_bulk_niceness: int = Field(default=15, ge=0, le=19)
    worker_interactive_max_cached_workflows: int = Field(default=2000, ge=0)
    worker_bulk_max_cached_workflows: int = Field(default=0, ge=0)
    worker_bulk_sticky_schedule_to_start_seconds: float = Field(default=60.0, gt=0)
    worker_bulk_max_concurrent_workflow_tasks: int = Field(default=64, ge=2)
    worker_bulk_max_concurrent_activities: int = Field(default=64, ge=1)
    # Sends the scheduled-send drain (worker/send_drain.py) of a bulk worker process has under way at once, and how
    # long a scheduled send is kept once no workflow reads it again (its enrollment ended, or it was taken back).
    worker_bulk_drain_concurrency: int = Field(default=64, ge=1)
    scheduled_send_retention_hours: float = Field(default=72.0, gt=0)
    # Run workflow code inside the SDK's sandbox (a fresh import of the workflow's module for every workflow instance,
    # proxies that refuse non-deterministic calls). Off: the tests hold workflow code to what the sandbox enforces
    # (README, "Due-step bursts", gives the measurement and the checks behind the default).
    worker_workflow_sandbox: bool = False
    whatsapp_sandbox_cloud_webhook_url: str | None = None
    # Twilio accounts on the sandbox (provider "sandbox" of a telephony account) authenticate with this auth token.
    twilio_sandbox_auth_token: str = "sandbox-twilio-auth-token"
    whatsapp_sandbox_evolution_webhook_url: str | None = None  # may contain "{instance}"
    whatsapp_sandbox_status_interval_seconds: float = Field(default=0.2, ge=0)

    # Live events (GET /api/v1/events): how long one stream lasts before the browser reconnects from its last event
    live_events_stream_seconds: float = Field(default=300.0, gt=0)

    # Sessions, cookies, secrets
    secret_key: str = PLACEHOLDER_SECRET  # also seals provider credentials at rest (core/secret_box.py)
    secret_key_fallbacks: list[str] = []  # earlier secret keys, JSON list: stored credentials sealed under them open
    session_cookie_name: str = "leadflow_session"
    csrf_cookie_name: str = "leadflow_csrf"
    session_ttl_seconds: int = 8 * 3600
    cookie_secure: bool = False

    # Login rate limits (per account and per client IP, in a sliding window)
    login_max_failures_per_account: int = 5
    login_max_failures_per_ip: int = 20
    login_window_seconds: int = 15 * 60

    # Rate-limit presets (core/rate_limits.py): hits allowed per subject in a fixed window. Password: attempts of
    # `POST /auth/password` per user. Webhooks: deliveries per sender address and per tenant. TTS: syntheses per tenant.
    rate_limit_password_attempts: int = Field(default=5, ge=1)
    rate_limit_password_window_seconds: int = Field(default=15 * 60, ge=1)
    # 400/s per sender: above what one API process acknowledges (the inbox's 200/s in the README's figures).
    rate_limit_webhook_source_per_window: int = Field(default=24_000, ge=1)
    rate_limit_webhook_tenant_per_window: int = Field(default=12_000, ge=1)
    rate_limit_webhook_window_seconds: int = Field(default=60, ge=1)
    rate_limit_tts_per_window: int = Field(default=600, ge=1)
    rate_limit_tts_window_seconds: int = Field(default=60, ge=1)

    # First platform administrator, created by the dev stack and `python -m devstack bootstrap`
    bootstrap_admin_email: str = "admin@leadflow.local"
    bootstrap_admin_password: str = BUILT_IN_ADMIN_PASSWORD

    # Lead lifecycle
    default_speed_to_lead_minutes: int = 15
    default_phone_region: str = "US"
    default_timezone: str = "UTC"
    lead_workflow_max_history_events: int = Field(default=2000, ge=100)
    # A sequence enrollment continues as new between steps once its history is this long.
    sequence_workflow_max_history_events: int = Field(default=2000, ge=100)
    # An enrollment started with this on writes each send it plans ahead for the bulk workers' scheduled-send drain
    # and sleeps past it, so a burst of due sends costs no workflow task (README, "Due-step bursts"). Off: the
    # workflow wakes at the send's time and sends it in an activity. Frozen into each enrollment when it starts.
    sequence_scheduled_sends: bool = True
    # How long the API waits for a lead workflow to answer a status change before answering 503.
    lead_status_change_timeout_seconds: float = Field(default=30.0, gt=0)

    # WhatsApp channel (channels/whatsapp): shards as JSON, e.g. LEADFLOW_WHATSAPP_EVOLUTION_SHARDS='[{"name":
    # "shard-01","base_url":"http://evo1:8080","instance":"acme-shard-01","api_key":"..."}]'
    whatsapp_evolution_shards: list[EvolutionShard] = Field(default_factory=list)
    whatsapp_opt_out_keywords: list[str] = Field(default_factory=lambda: list(DEFAULT_OPT_OUT_KEYWORDS))
    whatsapp_service_window_hours: int = Field(default=24, ge=1)
    whatsapp_sender_messages_per_second: int = Field(default=80, ge=1)
    whatsapp_recipient_min_interval_seconds: float = Field(default=6.0, ge=0)
    whatsapp_pacing_max_wait_seconds: float = Field(default=2.0, ge=0)  # longer waits become a retry with a delay
    whatsapp_template_language: str = "en_US"
    # A send whose attempt was recorded but never confirmed (the worker died mid-call) is not repeated until a status
    # webhook reconciles it or this long after the attempt started; re-runs meanwhile retry every few seconds.
    whatsapp_send_reconcile_window_seconds: float = Field(default=60.0, ge=0)
    whatsapp_send_reconcile_poll_seconds: float = Field(default=3.0, gt=0)

    # AI agent (agent/): what a tenant's settings start from, and limits of one turn. The model is called with the
    # `openai` SDK at any OpenAI-compatible base URL; the SDK never retries (Temporal does), and a call gives up after
    # the timeout. A turn sends the latest `ai_history_messages` messages and runs at most `ai_max_tool_rounds`
    # rounds of tool calls. `ai_eval_*` point `./run eval` at a real model (without a key it uses the sandbox model).
    ai_default_base_url: str = "https://api.openai.com/v1"
    ai_default_model: str = "gpt-4o-mini"
    ai_request_timeout_seconds: float = Field(default=30.0, gt=0)
    ai_history_messages: int = Field(default=20, ge=1, le=200)
    ai_max_tool_rounds: int = Field(default=4, ge=1, le=20)
    ai_eval_base_url: str | None = None
    ai_eval_api_key: str | None = None
    ai_eval_model: str = "gpt-4o-mini"

    # CSV lead import: limits of one upload, and how many lead workflows its job starts at a time
    lead_import_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    # JSON request bodies under /api/ past this are refused with 413 (api/body_limit.py).
    api_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    lead_import_max_rows: int = Field(default=5000, ge=1)
    lead_import_workflow_concurrency: int = Field(default=16, ge=1)

    # Bulk sequence enrollment (POST /sequences/{id}/enrollments): most leads per request, and how its job starts
    # their workflows after the rows commit — at most this many starts in flight and this many per second.
    enrollment_max_leads: int = Field(default=10_000, ge=1)
    enrollment_start_concurrency: int = Field(default=32, ge=1)
    enrollment_start_per_second: float = Field(default=500.0, gt=0)

    # Background jobs (bulk enrollment, CSV import): workflows started per activity call (progress is recorded after
    # each); the sweeper runs every interval and starts jobs still queued, and enrollments and leads whose workflow
    # never started, once they are older than the grace period (at most `job_sweep_batch` of each per sweep).
    job_chunk_size: int = Field(default=200, ge=1, le=2000)
    job_sweep_interval_seconds: float = Field(default=60.0, ge=1)
    job_sweep_grace_seconds: float = Field(default=300.0, ge=0)
    job_sweep_batch: int = Field(default=1000, ge=1)

    # Feature flags (domain/feature_flags.py): how long a process keeps a tenant's flags before reading them again.
    feature_flag_cache_seconds: float = Field(default=30.0, ge=0)

    # Dev stack (python -m devstack up)
    dev_state_dir: str = ".leadflow"
    dev_postgres_port: int = 55432
    dev_redis_port: int = 56379
    temporal_ui_port: int = 8233
    seed_demo: bool = True

    # Test suite: an admin connection that may create a throwaway database per run, and a Redis to share.
    test_postgres_admin_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    test_redis_url: str = "redis://127.0.0.1:6379/0"

    @model_validator(mode="after")
    def _refuse_built_in_secrets_in_prod(self) -> "Settings":
        if self.env != "prod":
            return self
        problems = []
        if self.secret_key == PLACEHOLDER_SECRET:
            problems.append("LEADFLOW_SECRET_KEY must be set to a real secret")
        if PLACEHOLDER_SECRET in self.secret_key_fallbacks:
            problems.append(f"LEADFLOW_SECRET_KEY_FALLBACKS must not contain the placeholder '{PLACEHOLDER_SECRET}'")
        if self.bootstrap_admin_password == BUILT_IN_ADMIN_PASSWORD:
            problems.append("LEADFLOW_BOOTSTRAP_ADMIN_PASSWORD must be set to a real password")
        # The sandbox's secrets are built in, so anyone could sign a webhook for a tenant left on it.
        sandbox = sorted(
            f"LEADFLOW_{name.upper()}" for name in self.model_fields_set & SANDBOX_FIELDS if getattr(self, name)
        )
        if sandbox:
            problems.append(f"the provider sandbox is for dev and tests only: unset {', '.join(sandbox)}")
        if problems:
            raise ValueError("LEADFLOW_ENV=prod: " + "; ".join(problems))
        return self

    @property
    def sandbox_allowed(self) -> bool:
        """Whether WhatsApp accounts may use the provider sandbox (built-in secrets): never in prod."""
        return self.env != "prod"

    def require_database_url(self) -> str:
        if not self.database_url:
            raise RuntimeError("LEADFLOW_DATABASE_URL is not set")
        return self.database_url

    def sandbox_url(self) -> str:
        return self.sandbox_base_url or f"http://{self.sandbox_host}:{self.sandbox_port}"

    def require_redis_url(self) -> str:
        if not self.redis_url:
            raise RuntimeError("LEADFLOW_REDIS_URL is not set")
        return self.redis_url


# Settings that point a process at the provider sandbox or at its built-in credentials; refused in prod.
SANDBOX_FIELDS = frozenset(
    name
    for name in Settings.model_fields
    if name.startswith(("sandbox_", "whatsapp_sandbox_", "openai_sandbox_", "twilio_sandbox_"))
)


class ConfigurationError(SystemExit):
    """Refused settings: the process exits saying what to fix (and never prints the values, secrets included)."""


@lru_cache
def get_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        reasons = [
            f"{'.'.join(map(str, error['loc'])) or 'settings'}: {error['msg'].removeprefix('Value error, ')}"
            for error in exc.errors()
        ]
        raise ConfigurationError("invalid configuration: " + "; ".join(reasons)) from None
