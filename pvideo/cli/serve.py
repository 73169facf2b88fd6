"""Running the services: the API server (``serve``) and the Dramatiq workers (``worker``)."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pvideo.cli.console import console, fail, load_settings

if TYPE_CHECKING:
    from pvideo.runtime import Runtime
    from pvideo.settings import Settings

app = typer.Typer()


def run_server(*, runtime: Runtime, host: str, port: int, access_log: bool = True) -> None:
    """One server process on ``runtime`` (its in-process worker included, without Redis).
    The access log is pvideo's (``api.access_log``: no client address in the clear), not uvicorn's."""
    import uvicorn

    from api.access_log import AccessLog
    from api.main import create_app
    from pvideo.logs import configure_logging

    configure_logging()
    app = create_app(runtime=runtime)
    uvicorn.run(
        AccessLog(app) if access_log else app,
        host=host,
        port=port,
        log_level="info",
        access_log=False,
        **server_limits(runtime.settings),
    )


def server_limits(settings: Settings) -> dict[str, Any]:
    """uvicorn options bounding what a client can hold (docs/operations.md, "Limits and timeouts"):
    header read time and size, idle keep-alive, open connections; and whose proxy headers count."""
    from api.connection_limits import header_limited_protocol

    return {
        "http": header_limited_protocol(settings.header_timeout_seconds, settings.max_header_kb * 1024),
        "timeout_keep_alive": settings.keep_alive_seconds,
        "limit_concurrency": settings.max_connections,
        # X-Forwarded-For/-Proto are believed only from the configured proxies (uvicorn's default
        # trusts 127.0.0.1): the client address that wrong keys are counted by, https for cookies
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": ",".join(settings.trusted_proxies) or None,
    }


def announce_api_key(settings: Settings) -> None:
    """Embedded mode generates a key; say where it is so the API can be tried at once."""
    if not settings.api_keys:
        key_file = (settings.data_dir / "api.key").resolve()
        console.print(
            f"API key (X-API-Key header): {settings.effective_api_keys[0]}  "
            f"[dim](kept in {key_file}; set PVIDEO_API_KEYS to choose your own)[/dim]",
            soft_wrap=True,
        )


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[
        int, typer.Option(min=1, help="server processes (production: one per core, with PostgreSQL)")
    ] = 1,
    access_log: Annotated[bool, typer.Option(help="log every request")] = True,
) -> None:
    """Serve the API, the landing pages and (without Redis) an in-process worker."""
    from pvideo.runtime import Runtime

    settings = load_settings()
    announce_api_key(settings)
    if workers == 1:
        run_server(runtime=Runtime.from_settings(settings), host=host, port=port, access_log=access_log)
        return
    import uvicorn

    from pvideo.logs import configure_logging

    configure_logging()  # each process builds its own app (and runtime) from the same PVIDEO_* settings
    uvicorn.run(
        "api.access_log:logged_app" if access_log else "api.main:create_app",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level="info",
        access_log=False,  # uvicorn's prints client addresses whole: api.access_log's does not
        **server_limits(settings),
    )


@app.command()
def worker(
    processes: Annotated[int | None, typer.Option(min=1, help="worker processes (PVIDEO_WORKER_PROCESSES)")] = None,
    threads: Annotated[int | None, typer.Option(min=1, help="threads per process (PVIDEO_WORKER_THREADS)")] = None,
    queues: Annotated[str, typer.Option(help="comma-separated queues to consume")] = "renders,campaigns,webhooks",
) -> None:
    """Run Dramatiq workers (renders, campaign fan-out, webhooks) against PVIDEO_REDIS_URL."""
    settings = load_settings()
    if not settings.redis_url:
        raise fail("pvideo worker needs PVIDEO_REDIS_URL (without it, `pvideo serve` renders in-process)")
    args = [
        sys.executable,
        "-m",
        "dramatiq",
        "workers.main",
        "--processes",
        str(processes or settings.worker_processes),
        "--threads",
        str(threads or settings.worker_threads),
        "--queues",
        *queues.split(","),
    ]
    # Fetch no more renders than there are threads to run them (Dramatiq's default is twice as
    # many): a message fetched and waiting dies with its worker, and then waits for the rescue.
    os.environ.setdefault("dramatiq_queue_prefetch", str(threads or settings.worker_threads))
    os.environ["PVIDEO_WORKER_QUEUES"] = queues  # workers.main: only a render worker lowers its priority
    os.execv(sys.executable, args)
