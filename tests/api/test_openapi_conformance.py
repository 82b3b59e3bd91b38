"""Schemathesis over the whole OpenAPI document, in-process against the app, authenticated: as the owner of a new
test tenant (an API key), and on the platform operations (tenants, shard moves) as a system admin (a session).

Per operation: the document's examples, its coverage cases (each keyword at and past its edges, missing and wrong
types) and a few generated examples, derandomized so every run sends the same requests. Each answer must not be a
server error, must have a declared status, and must match the declared schema and content type.

The document is read when the module is collected (one test per operation); the app under test is a second
instance of the API (`create_app` with the session's settings) that schemathesis serves from its own event loop,
where that instance opens its own database, Redis and Temporal clients.
Nothing is excluded: every operation gets a tenant of its own, so what one does (deleting statuses, logging out,
revoking keys) cannot change what another sees; ids schemathesis makes up name nothing, so they answer 404.
"""

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import ASGIClient, shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from core.config import Settings
from tests.fixtures.crm import TenantContext

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance, content_type_conformance]
EXAMPLES_PER_OPERATION = 5
# Operations of system_admin only: a tenant's owner would only ever see their 403.
PLATFORM_PATHS = ("/api/v1/tenants", "/api/v1/whatsapp/shards/")
# The ASGI client answers for this host only: no request leaves the process.
BASE_URL = "http://testserver"


schema = schemathesis.openapi.from_dict(create_app(Settings(env="test")).openapi())
schema.config.phases.update(phases=["examples", "coverage", "fuzzing"])


@pytest.fixture(scope="module")
def app_client(settings: Settings) -> Iterator[ASGIClient]:
    """A requests session whose transport calls the app in-process (schemathesis' ASGI client, lifespan started)."""
    # The live event stream is endless by design: here it ends at once, so its answer can be read to the end.
    quick = settings.model_copy(update={"live_events_stream_seconds": 0.2})
    with ASGIClient(create_app(quick), base_url=BASE_URL) as client:
        yield client
    shutdown_lifespans()  # the app's clients close here, not when the process exits


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_its_schema_says(
    case: schemathesis.Case, app_client: ASGIClient, tenant: TenantContext, request: pytest.FixtureRequest
) -> None:
    headers = tenant.headers("owner")
    if case.operation.path.startswith(PLATFORM_PATHS):
        headers = request.getfixturevalue("system_admin").headers
        # The document's only scheme is the API key: a generated `Authorization` would be judged instead of the cookie.
        (case.headers or {}).pop("Authorization", None)
    case.call_and_validate(session=app_client, base_url=BASE_URL, headers=headers, checks=CHECKS)
