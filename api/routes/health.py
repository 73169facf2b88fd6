"""Liveness, readiness (database, Redis, storage) and Prometheus metrics."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from api.deps import SessionDep, StateDep
from pvideo.metrics import registry

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(session: SessionDep) -> dict[str, str]:
    session.execute(text("SELECT 1"))
    return {"status": "ok"}


def _check(fn: Callable[[], None]) -> str:
    try:
        fn()
    except Exception as exc:
        return f"error: {type(exc).__name__}: {exc}"[:300]
    return "ok"


@router.get("/readyz", responses={503: {"description": "a dependency is down"}})
def readyz(state: StateDep) -> JSONResponse:
    """200 when the database, Redis (unless embedded) and storage answer; 503 naming what does not."""
    runtime, queue = state.runtime, state.queue

    def database() -> None:
        with runtime.db.session() as session:
            session.execute(text("SELECT 1"))

    def storage() -> None:
        runtime.storage.exists(f"readyz/{uuid.uuid4().hex}")

    checks = {"database": _check(database), "storage": _check(storage)}
    checks["redis"] = "embedded" if queue.embedded else _check(queue.ping)
    ready = all(v in ("ok", "embedded") for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks}, status_code=200 if ready else 503
    )


@router.get("/metrics", response_class=Response)
def metrics(state: StateDep) -> Response:
    """Prometheus text format: renders by status, render seconds, queue depth, events ingested."""
    body = generate_latest(registry(state.runtime.db, state.queue.depth))
    return Response(body, media_type=CONTENT_TYPE_LATEST)
