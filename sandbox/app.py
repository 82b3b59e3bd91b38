"""The sandbox's FastAPI app: Graph API and Evolution API sends, OpenAI chat completions, Twilio Calls, `/_sandbox`
control."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from sandbox import control, evolution, graph, openai_chat, twilio_api, twilio_control
from sandbox.config import SandboxConfig
from sandbox.service import Sandbox
from sandbox.twilio_api import TwilioSandbox
from sandbox.twilio_calls import CallPlayer
from sandbox.twilio_state import TwilioState


def create_app(config: SandboxConfig) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=httpx.Timeout(10.0)) as http:
            app.state.sandbox = Sandbox(config, http)
            twilio_state = TwilioState(config.twilio_auth_token)
            app.state.twilio = TwilioSandbox(twilio_state, CallPlayer(twilio_state, http))
            try:
                yield
            finally:
                app.state.sandbox.cancel_background()
                app.state.twilio.player.cancel_all()

    app = FastAPI(title="Leadflow provider sandbox", version="0.1.0", lifespan=lifespan)
    # Control first: its literal paths must win over the Graph API's `/{version}/{phone_number_id}/messages`.
    app.include_router(control.router)
    app.include_router(openai_chat.router)
    app.include_router(twilio_control.router)
    app.include_router(twilio_api.router)
    app.include_router(evolution.router)
    app.include_router(graph.router)
    return app
