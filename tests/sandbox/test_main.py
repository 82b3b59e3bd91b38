"""`python -m sandbox` starts a real server in its own process that speaks the Graph API and can be reset."""

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from providers.whatsapp.cloud import CloudApiClient
from tests.fixtures.sandbox import REPO_ROOT


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def sandbox_process() -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "LEADFLOW_WHATSAPP_SANDBOX_ACCESS_TOKEN": "process-token", "LEADFLOW_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--host", "127.0.0.1", "--port", str(port)], cwd=REPO_ROOT, env=env
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


async def test_python_m_sandbox_starts_and_answers(sandbox_process: str) -> None:
    async with httpx.AsyncClient(base_url=sandbox_process, timeout=5) as http:
        for _ in range(200):
            try:
                if (await http.get("/_sandbox/health")).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
        else:
            pytest.fail("python -m sandbox did not answer /_sandbox/health")

        client = CloudApiClient(
            http, base_url=sandbox_process, graph_version="v23.0", phone_number_id="1", access_token="process-token"
        )
        sent = await client.send_text("+14155550123", "hello from a separate process")
        [recorded] = (await http.get("/_sandbox/messages", params={"to": "+14155550123"})).json()["messages"]
        assert (recorded["id"], recorded["text"]) == (sent.provider_message_id, "hello from a separate process")

        assert (await http.post("/_sandbox/reset")).status_code == 204
        assert (await http.get("/_sandbox/messages")).json()["messages"] == []
