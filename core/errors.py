"""One application error base: every expected failure carries its HTTP status and a message a person can act on."""

from typing import Any


class AppError(Exception):
    """400 unless a subclass says otherwise: `class NotFound(AppError, status_code=404, code="not_found")`."""

    status_code = 400
    code = "bad_request"

    def __init_subclass__(cls, *, status_code: int | None = None, code: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if status_code is not None:
            cls.status_code = status_code
        if code is not None:
            cls.code = code

    def __init__(self, message: str, *, details: Any = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = headers


class NotFound(AppError, status_code=404, code="not_found"): ...


class Unauthorized(AppError, status_code=401, code="unauthorized"): ...


class Forbidden(AppError, status_code=403, code="forbidden"): ...


class FeatureDisabled(Forbidden, code="feature_disabled"):
    """403: a feature flag of the caller's tenant is off (domain/feature_flags.py)."""


class Conflict(AppError, status_code=409, code="conflict"): ...


class Unprocessable(AppError, status_code=422, code="unprocessable"): ...


class TooManyRequests(AppError, status_code=429, code="too_many_requests"): ...


class ServiceUnavailable(AppError, status_code=503, code="service_unavailable"): ...
