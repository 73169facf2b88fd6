"""The FastAPI app factory. ``pvideo serve`` runs ``create_app(Settings())``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.utils import is_body_allowed_for_status_code
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.errors import DATABASE_DOWN, DATABASE_RETRY_SECONDS, is_database_outage, short_detail, validation_errors
from api.event_intake import EventIntake
from api.gone import gone_response
from api.input_checks import JsonBodyLimits, refuse_unstorable_text
from api.limits import RequestBodyLimits
from api.pages import STATIC_DIR
from api.routes import (
    analytics,
    audit,
    campaigns,
    customer_export,
    customers,
    dashboard,
    events,
    health,
    hls,
    landing,
    links,
    responses,
    scenes,
    thumbnails,
    viewer,
)
from api.routes.studio import router as studio_router
from api.routes.studio.signed_in import StudioRedirect
from api.routes.webhooks import router as webhooks_router
from api.security import SecurityHeaders
from api.state import AppState
from pvideo import __version__
from pvideo.errors import DatabaseUnavailable, LinkGone, NotFound, PermanentError, PvideoError
from pvideo.runtime import Runtime
from pvideo.settings import Settings
from pvideo.tracking.responses import AnswerWriter
from workers.deliverer import Deliverer
from workers.retention import RetentionRunner

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> FastAPI:
    runtime = runtime or Runtime.from_settings(settings or Settings())
    # campaign webhooks: sent from here in embedded mode, by the workers with a Redis queue (workers/deliverer.py)
    deliverer = Deliverer(lambda: runtime) if runtime.settings.sends_webhooks("api") else None
    retention = RetentionRunner(lambda: runtime)  # in embedded mode only: with Redis, the workers run it

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state: AppState = app.state.pvideo
        state.queue.start()
        if deliverer is not None:
            deliverer.start()
        if state.queue.embedded:
            retention.start()
        yield
        retention.stop()
        if deliverer is not None:
            deliverer.stop()
        state.queue.close()
        state.events.close()
        app.state.answers.close()

    app = FastAPI(
        title="pvideo",
        version=__version__,
        lifespan=lifespan,
        description="Personalized video: campaigns, landing pages, events, analytics.",
        dependencies=[Depends(refuse_unstorable_text)],
    )
    app.state.pvideo = AppState.build(runtime)
    # viewer answers share the events' group commit design, with a writer of their own
    app.state.answers = AnswerWriter(runtime.db, concurrency=runtime.settings.event_writers)
    app.add_middleware(
        EventIntake, state=app.state.pvideo, answers=app.state.answers
    )  # innermost: the limits and headers apply to it
    app.add_middleware(SecurityHeaders)
    app.add_middleware(JsonBodyLimits)
    app.add_middleware(RequestBodyLimits, settings=runtime.settings)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # events first: the busiest route, matched before the others are tried
    for module in (
        events,
        responses,
        health,
        campaigns,
        analytics,
        links,
        audit,
        scenes,
        customer_export,
        customers,
        viewer,
        hls,
        thumbnails,
        landing,
        dashboard,
    ):
        app.include_router(module.router)
    app.include_router(webhooks_router)
    app.include_router(studio_router)
    _add_error_handlers(app)
    return app


def _add_error_handlers(app: FastAPI) -> None:
    """Library errors become 4xx with their message; only this layer knows HTTP.

    Every error body is short and names the field, never the input (``api.errors``);
    a database outage is a 503 with ``Retry-After`` on every route.
    """

    @app.exception_handler(StudioRedirect)
    async def studio_redirect(_: Request, exc: StudioRedirect) -> Response:
        return exc.response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> Response:
        if not is_body_allowed_for_status_code(exc.status_code):
            return Response(status_code=exc.status_code, headers=exc.headers)
        return JSONResponse({"detail": short_detail(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": validation_errors(exc.errors())}, status_code=422)

    @app.exception_handler(ValidationError)
    async def invalid_data(_: Request, exc: ValidationError) -> JSONResponse:
        return JSONResponse({"detail": validation_errors(exc)}, status_code=422)

    app.add_exception_handler(LinkGone, gone_response)  # a revoked, erased or expired link: 410

    @app.exception_handler(NotFound)
    async def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": short_detail(str(exc))}, status_code=404)

    @app.exception_handler(PermanentError)
    async def permanent(_: Request, exc: PermanentError) -> JSONResponse:
        return JSONResponse({"detail": short_detail(str(exc))}, status_code=422)

    @app.exception_handler(PvideoError)
    async def transient(_: Request, exc: PvideoError) -> JSONResponse:
        return JSONResponse({"detail": short_detail(str(exc))}, status_code=503, headers={"Retry-After": "5"})

    async def database_down(request: Request, exc: Exception) -> JSONResponse:
        if not is_database_outage(exc):
            raise exc  # a statement the database refused is a bug: a 500, logged with its traceback
        log.warning("%s %s: database unavailable (%s)", request.method, request.url.path, type(exc).__name__)
        return JSONResponse(
            {"detail": DATABASE_DOWN}, status_code=503, headers={"Retry-After": str(DATABASE_RETRY_SECONDS)}
        )

    for outage in (DBAPIError, SQLAlchemyTimeout, DatabaseUnavailable, psycopg.Error):
        app.add_exception_handler(outage, database_down)
