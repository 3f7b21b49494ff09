"""One error body for every failure: `{"error": {"code", "message", "fix"}}`, status by error kind.

CostplaneError subclasses map to statuses here (and only here): bad input 400, not found 404,
conflicts 409, infeasible requests 422, a store that cannot answer 503. Request validation errors
(pydantic) are 422 in the same shape, naming the field that failed.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from costplane.core.errors import (
    CostplaneError,
    InfeasibleError,
    InputError,
    NotFittedError,
    StoreError,
)


class ApiError(CostplaneError):
    """An HTTP-level failure (auth, not found, conflict) with its status and machine-readable code."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, fix: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message, fix)
        self.headers = headers


class Unauthorized(ApiError):
    status = 401
    code = "unauthorized"

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message, fix, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class Conflict(ApiError):
    status = 409
    code = "conflict"


class TooManyRequests(ApiError):
    status = 429
    code = "rate_limited"


# Most specific first: the first isinstance match wins.
_STATUS_BY_KIND: tuple[tuple[type[CostplaneError], int, str], ...] = (
    (InfeasibleError, 422, "infeasible"),
    (NotFittedError, 409, "not_fitted"),
    (StoreError, 503, "store_unavailable"),
    (InputError, 400, "invalid_input"),
    (CostplaneError, 400, "error"),
)


def error_body(code: str, message: str, fix: str | None) -> dict:
    return {"error": {"code": code, "message": message, "fix": fix}}


def _status_of(exc: CostplaneError) -> tuple[int, str]:
    if isinstance(exc, ApiError):
        return exc.status, exc.code
    for kind, status, code in _STATUS_BY_KIND:
        if isinstance(exc, kind):
            return status, code
    return 400, "error"


async def _costplane_error(_request: Request, exc: CostplaneError) -> JSONResponse:
    status, code = _status_of(exc)
    headers = exc.headers if isinstance(exc, ApiError) else None
    return JSONResponse(error_body(code, exc.message, exc.fix), status_code=status, headers=headers)


def _field_path(loc: tuple) -> str:
    return ".".join(str(p) for p in loc if p not in ("body",)) or "request"


async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    where = _field_path(tuple(first.get("loc", ())))
    message = f"{where}: {first.get('msg', 'invalid value')}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more)"
    details = [{"field": _field_path(tuple(e.get("loc", ()))), "message": e.get("msg", "")} for e in errors]
    body = error_body("validation_error", message, "correct the named field; the schema is at /openapi.json")
    body["error"]["details"] = details
    return JSONResponse(body, status_code=422)


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}


async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    fix = "see /openapi.json for the routes" if exc.status_code in (404, 405) else None
    return JSONResponse(error_body(code, str(exc.detail), fix), status_code=exc.status_code,
                        headers=getattr(exc, "headers", None))


async def _integrity_error(_request: Request, _exc: IntegrityError) -> JSONResponse:
    # Two requests created the same unique thing at once: the loser gets the 409 its check would have given.
    return JSONResponse(error_body("conflict", "another request created the same item at the same time",
                                   "read the current state and retry"), status_code=409)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(CostplaneError, _costplane_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)


# The error body as an OpenAPI response, so clients (and schemathesis) know every route's failures.
def error_responses(*statuses: int) -> dict[int | str, dict]:
    from costplane.api._schemas import ErrorPublic

    return {s: {"model": ErrorPublic, "description": _DESCRIPTIONS.get(s, "error")} for s in statuses}


_DESCRIPTIONS = {
    400: "invalid input",
    401: "missing or unknown token",
    403: "role too low or team outside the token's scope",
    404: "not found",
    409: "conflict with stored state",
    413: "request body too large",
    429: "rate limit of the token exceeded",
    422: "validation failed or nothing feasible",
    503: "database unavailable",
}
