"""Middleware that must see every answer, the 500 of an unexpected failure included.

Starlette puts its `ServerErrorMiddleware` outside every middleware added with `add_middleware`, and the 500 it sends
for an unhandled exception never passes through them. The security headers, the request metrics and the request log
must cover that answer too, so they wrap the whole stack, outside the error middleware.
"""

from collections.abc import Callable

from fastapi import FastAPI
from starlette.types import ASGIApp

Wrap = Callable[[ASGIApp], ASGIApp]


def install_outer_middleware(app: FastAPI, *wraps: Wrap) -> None:
    """Wrap the app's built middleware stack; the first wrap given is the outermost."""
    build_inner = app.build_middleware_stack

    def build() -> ASGIApp:
        stack = build_inner()
        for wrap in reversed(wraps):
            stack = wrap(stack)
        return stack

    # The stack is built lazily on the first request; replacing the builder keeps the framework's own stack intact.
    setattr(app, "build_middleware_stack", build)  # noqa: B010
