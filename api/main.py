"""The FastAPI app factory. ``pvideo serve`` runs ``create_app(Settings())``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from api.limits import BodySizeLimit
from api.pages import STATIC_DIR
from api.routes import analytics, campaigns, dashboard, events, health, hls, landing, links, scenes, thumbnails, viewer
from api.security import SecurityHeaders
from api.state import AppState
from pvideo import __version__
from pvideo.errors import NotFound, PermanentError, PvideoError
from pvideo.runtime import Runtime
from pvideo.settings import Settings


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> FastAPI:
    runtime = runtime or Runtime.from_settings(settings or Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state: AppState = app.state.pvideo
        state.queue.start()
        yield
        state.queue.close()

    app = FastAPI(
        title="pvideo",
        version=__version__,
        lifespan=lifespan,
        description="Personalized video: campaigns, landing pages, events, analytics.",
    )
    app.state.pvideo = AppState.build(runtime)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(
        BodySizeLimit,
        max_body=runtime.settings.max_body_mb * 1024 * 1024,
        max_upload=runtime.settings.max_upload_mb * 1024 * 1024,
    )
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # events first: the busiest route, matched before the others are tried
    for module in (events, health, campaigns, analytics, links, scenes, viewer, hls, thumbnails, landing, dashboard):
        app.include_router(module.router)
    _add_error_handlers(app)
    return app


def _add_error_handlers(app: FastAPI) -> None:
    """Library errors become 4xx with their message; only this layer knows HTTP."""

    @app.exception_handler(NotFound)
    async def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(PermanentError)
    async def permanent(_: Request, exc: PermanentError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(PvideoError)
    async def transient(_: Request, exc: PvideoError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "5"})
