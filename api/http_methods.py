"""The methods a path supports, for the `Allow` header of a 405 and the answer to `OPTIONS`.

Starlette answers a method mismatch from the first route whose path matches, so a path served by several routes
(`GET` and `POST /webhooks/whatsapp/cloud`, `GET`, `PATCH` and `DELETE /api/v1/leads/{id}`) announced only that
route's methods. Here every route of the path counts. No CORS middleware runs, so `OPTIONS` is answered for every
path the same way: 204 with `Allow`.
"""

from fastapi import Request, Response
from fastapi.routing import iter_route_contexts
from starlette.routing import Match

METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request, announced: str = "") -> list[str]:
    """Every method some route serves at this request's path, plus OPTIONS; empty when no route has the path.

    A mounted app (the docs' static files) is no route with methods: the `Allow` it announced counts instead.
    """
    methods = {method.strip() for method in announced.split(",") if method.strip()}
    # Route contexts, not `app.router.routes`: FastAPI keeps an included router as one node of the route list.
    for route in iter_route_contexts(request.app.routes):
        route_methods = route.methods
        if not route_methods:
            continue
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= set(route_methods)
    if not methods:
        return []
    methods.add("OPTIONS")
    return sorted(methods, key=lambda m: METHOD_ORDER.index(m) if m in METHOD_ORDER else len(METHOD_ORDER))


def options_response(methods: list[str]) -> Response:
    return Response(status_code=204, headers={"Allow": ", ".join(methods)})
