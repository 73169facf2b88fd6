"""Request dependencies: ``SessionDep``, ``StateDep``, ``ApiKeyDep`` and the scoped key deps."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader
from sqlalchemy.orm import Session

from api.state import AppState
from pvideo.access.apikeys import key_scopes


async def get_state(request: Request) -> AppState:
    """Async: FastAPI runs a plain ``def`` dependency in a worker thread, a thread hop per request."""
    return request.app.state.pvideo


StateDep = Annotated[AppState, Depends(get_state)]


def get_session(state: StateDep) -> Iterator[Session]:
    with state.runtime.db.session() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]

_api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="A key from `pvideo apikey create` (scoped), PVIDEO_API_KEYS or pvideo-data/api.key (all scopes)",
)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def refuse_wrong_key(state: AppState, request: Request) -> None:
    """Count a wrong key from this address: 429 once it has used up its wrong-key attempts.

    Only wrong keys are counted and refused; a right key is checked first and always passes,
    so a guesser sharing an address (behind a proxy: everyone) locks out no one but itself."""
    wait = state.auth_failures.take(_client(request))
    if wait > 0:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "too many invalid API keys from this address",
            headers={"Retry-After": str(math.ceil(wait))},
        )


def _scopes_of(state: AppState, request: Request, key: str | None) -> frozenset[str]:
    scopes = None
    if key:
        with state.runtime.db.session() as session:  # configured keys answer without a query
            scopes = key_scopes(session, key, state.runtime.settings.effective_api_keys)
        if scopes is None:
            refuse_wrong_key(state, request)
    if scopes is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "missing or invalid API key", headers={"WWW-Authenticate": "X-API-Key"}
        )
    return scopes


def optional_key_scopes(
    state: StateDep, request: Request, key: Annotated[str | None, Security(_api_key_header)]
) -> frozenset[str] | None:
    """The scopes of the key presented, ``None`` when there is none (a wrong key is 401 as anywhere)."""
    return _scopes_of(state, request, key) if key else None


def require_api_key(state: StateDep, request: Request, key: Annotated[str | None, Security(_api_key_header)]) -> str:
    """Any valid key, whatever its scopes."""
    _scopes_of(state, request, key)
    return key or ""


def require_scope(*any_of: str) -> Callable[..., str]:
    """A dependency accepting a key that holds at least one of ``any_of`` (else 401, or 403 naming them)."""

    def check(state: StateDep, request: Request, key: Annotated[str | None, Security(_api_key_header)]) -> str:
        if not _scopes_of(state, request, key) & set(any_of):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this API key lacks the scope {' or '.join(any_of)}")
        return key or ""

    return check


ApiKeyDep = Annotated[str, Depends(require_api_key)]
CampaignsKeyDep = Annotated[str, Depends(require_scope("campaigns"))]
AnalyticsKeyDep = Annotated[str, Depends(require_scope("analytics"))]
LinksKeyDep = Annotated[str, Depends(require_scope("campaigns", "admin"))]
