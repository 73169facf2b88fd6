"""Request dependencies: ``SessionDep``, ``StateDep``, ``ApiKeyDep``."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader
from sqlalchemy.orm import Session

from api.state import AppState


def get_state(request: Request) -> AppState:
    return request.app.state.pvideo


StateDep = Annotated[AppState, Depends(get_state)]


def get_session(state: StateDep) -> Iterator[Session]:
    with state.runtime.db.session() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]

_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False,
                               description="A key from PVIDEO_API_KEYS (or pvideo-data/api.key)")


def require_api_key(state: StateDep, key: Annotated[str | None, Security(_api_key_header)]) -> str:
    valid = state.runtime.settings.effective_api_keys
    if key and any(hmac.compare_digest(key.encode(), k.encode()) for k in valid):
        return key
    raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or invalid API key",
                        headers={"WWW-Authenticate": "X-API-Key"})


ApiKeyDep = Annotated[str, Depends(require_api_key)]
