"""Liveness, readiness (database, Redis, storage) and Prometheus metrics."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from api.deps import SessionDep, StateDep, optional_key_scopes
from pvideo.metrics import registry

router = APIRouter(tags=["health"])

CHECK_SECONDS = 2.0  # each dependency answers within this, or counts as down


@router.get("/healthz")
def healthz(session: SessionDep) -> dict[str, str]:
    session.execute(text("SELECT 1"))
    return {"status": "ok"}


class _Probe:
    """One check running in a daemon thread (a hung dependency never holds up the server's exit)."""

    def __init__(self, name: str, check: Callable[[], None]) -> None:
        self.done = threading.Event()
        self.error: str | None = None
        threading.Thread(target=self._run, args=(check,), name=f"readyz-{name}", daemon=True).start()

    def _run(self, check: Callable[[], None]) -> None:
        try:
            check()
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"[:300]
        finally:
            self.done.set()


class ReadinessChecks:
    """Runs the checks concurrently and waits at most ``seconds`` for all of them.

    A check still running from an earlier request is waited on again rather than
    started twice, so a dependency that hangs (S3 accepting connections and never
    answering held ``/readyz`` 330 s) costs one thread, however often it is probed.
    """

    def __init__(self) -> None:
        self._running: dict[str, _Probe] = {}
        self._lock = threading.Lock()

    def run(self, checks: dict[str, Callable[[], None]], seconds: float) -> dict[str, str | None]:
        """Each check's error (``None``: it answered) within ``seconds`` in all."""
        deadline = time.monotonic() + seconds
        with self._lock:
            for name, check in checks.items():
                probe = self._running.get(name)
                if probe is None or probe.done.is_set():
                    self._running[name] = _Probe(name, check)
            probes = {name: self._running[name] for name in checks}
        return {
            name: probe.error
            if probe.done.wait(max(0.0, deadline - time.monotonic()))
            else f"no answer in {seconds:g} s"
            for name, probe in probes.items()
        }


def _readiness(app: FastAPI) -> ReadinessChecks:
    checks = getattr(app.state, "readiness", None)
    if checks is None:
        checks = app.state.readiness = ReadinessChecks()
    return checks


@router.get("/readyz", responses={503: {"description": "a dependency is down"}})
def readyz(
    request: Request, state: StateDep, scopes: Annotated[frozenset[str] | None, Depends(optional_key_scopes)]
) -> JSONResponse:
    """200 when the database, Redis (unless embedded) and storage answer within 2 s each; 503
    naming what does not. Only an ``admin`` key (``X-API-Key``) is shown why: the errors name
    hosts, ports and buckets."""
    runtime, queue = state.runtime, state.queue

    def database() -> None:
        with runtime.db.session() as session:
            session.execute(text("SELECT 1"))

    def storage() -> None:
        runtime.storage.exists(f"readyz/{uuid.uuid4().hex}", retry=False)  # the answer now, not after retries

    probes: dict[str, Callable[[], None]] = {"database": database, "storage": storage}
    if not queue.embedded:
        probes["redis"] = queue.ping
    errors = _readiness(request.app).run(probes, CHECK_SECONDS)
    admin = scopes is not None and "admin" in scopes
    checks = {name: "ok" if error is None else f"error: {error}" if admin else "fail" for name, error in errors.items()}
    if queue.embedded:
        checks["redis"] = "embedded"
    ready = all(error is None for error in errors.values())
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks}, status_code=200 if ready else 503
    )


@router.get("/metrics", response_class=Response)
def metrics(state: StateDep) -> Response:
    """Prometheus text format: renders by status, render seconds, queue depth, events ingested."""
    body = generate_latest(registry(state.runtime.db, state.queue.depth))
    return Response(body, media_type=CONTENT_TYPE_LATEST)
