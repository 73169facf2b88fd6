"""The one settings object, read from ``PVIDEO_*`` environment variables.

Unset values fall back to embedded defaults that need no service at all:
SQLite and local files under ``PVIDEO_DATA_DIR`` (``./pvideo-data``), and an
in-process queue. Nothing here runs at import time; build ``Settings()`` at
the edge (CLI, API app factory, worker entry point) and pass it in.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
_MIN_SECRET_LEN = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PVIDEO_", extra="ignore")

    data_dir: Path = Path("pvideo-data")
    database_url: str | None = None
    redis_url: str | None = None
    storage_url: str | None = None
    s3_endpoint_url: str | None = None
    # S3 calls (pvideo/storage.py): per-request timeouts, and how long one call keeps retrying
    # transient failures (refused, reset, timeout, 5xx, throttling) before it fails the attempt
    s3_connect_timeout: float = Field(default=5.0, gt=0)
    s3_read_timeout: float = Field(default=20.0, gt=0)
    storage_retry_seconds: float = Field(default=120.0, ge=0)
    # Template ingest (pvideo/render/versions.py): one machine ingests a version under a database
    # lease renewed every third of ingest_lease_seconds; the others wait up to ingest_wait_seconds
    ingest_lease_seconds: float = Field(default=30.0, gt=0.5)
    ingest_wait_seconds: float = Field(default=1200.0, gt=0)
    secret_key: str | None = Field(default=None, repr=False)
    api_keys: Annotated[list[str], NoDecode] = Field(default_factory=list, repr=False)
    public_base_url: str = "http://127.0.0.1:8000"
    assets_dir: Path = PROJECT_ROOT / "assets"
    scenes_dir: Path = PROJECT_ROOT / "scenes"
    ffmpeg: str | None = None
    ffmpeg_timeout: float = 600.0
    # Landing pages and events (see pvideo/tracking/events.py, pvideo/access/ratelimit.py, pvideo/tracking/export.py)
    viewer_token_max_age_days: float = Field(default=365.0, gt=0)
    event_rate_per_second: float = Field(default=10.0, gt=0)
    event_rate_burst: int = Field(default=500, ge=100)
    # transactions storing viewer events at once per server process (pvideo/tracking/groupcommit.py); one
    # lets the batches that arrive meanwhile join the next group, the lowest p99 on 2 cores
    event_writers: int = Field(default=1, ge=1, le=16)
    # Wrong API keys (X-API-Key header) and failed studio sign-ins per client address: a bucket of
    # ``auth_failure_burst`` refilled at ``auth_failures_per_minute``; an empty bucket answers 429.
    auth_failures_per_minute: float = Field(default=6.0, gt=0)
    auth_failure_burst: int = Field(default=20, ge=1)
    event_export_settle_seconds: float = Field(default=2.0, ge=0)
    x264_preset: str = "veryfast"
    x264_crf: int = 23
    engine: Literal["segments", "full"] = "segments"
    segment_seconds: float = Field(default=1.0, gt=0.1, le=10)
    # a worker's renders run this many nice steps below the server's previews (pvideo/render/priority.py)
    render_nice: int = Field(default=10, ge=0, le=19)
    worker_threads: int = 2
    worker_processes: int = 1
    # Queue tuning (see workers/broker.py): a killed worker's renders are redelivered
    # once its heartbeat is older than redis_heartbeat_timeout and a live worker runs
    # maintenance, which every worker does at least every redis_maintenance_interval.
    redis_namespace: str = "dramatiq"
    redis_heartbeat_timeout: float = Field(default=10.0, gt=1)
    redis_maintenance_interval: float = Field(default=2.0, gt=0)
    # A render gets render_max_retries + 1 attempts, counted in the database (renders.attempts):
    # a re-sent message never resets them. A worker renews its lease every third of
    # render_lease_seconds; a killed worker's rows are claimable once the lease lapses.
    render_max_retries: int = Field(default=4, ge=0)
    render_lease_seconds: float = Field(default=9.0, gt=1)
    # The reconciler (pvideo/jobs/reconcile.py) runs every reconcile_interval seconds in one
    # worker of the deployment: it relays the outbox and re-sends rows that lost their message.
    reconcile_interval: float = Field(default=10.0, gt=0)
    # A queued row whose last message is older than this, and is no longer on the queue, is re-sent.
    reconcile_grace_seconds: float = Field(default=30.0, ge=0)
    fanout_batch_size: int = Field(default=1000, ge=1, le=50_000)
    # Batches (pvideo/render/batch.py): the fan-out groups up to this many renders of a campaign
    # into one message, and the worker renders them in one pass, each shared part decoded once;
    # 1 sends one message per render. Default from bench/batch.py (docs/benchmarks.md).
    render_batch_size: int = Field(default=1, ge=1, le=16)
    max_upload_mb: int = Field(default=1024, ge=1)
    # Security limits (see api/limits.py, pvideo/scene/customers.py)
    max_body_mb: int = Field(default=25, ge=1)
    max_rows: int = Field(default=1_000_000, ge=1)
    # Bounded work (docs/operations.md, "Limits and timeouts"). A scene preview runs in a child
    # process (pvideo/render/sandboxed.py) with an address-space ceiling and a CPU-time limit,
    # killed past preview_timeout_seconds or when its client goes away.
    preview_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    preview_cpu_seconds: int = Field(default=20, ge=1, le=600)
    preview_memory_mb: int = Field(default=2048, ge=512)
    # Request bodies (api/limits.py): 408 when no chunk arrives for body_idle_timeout_seconds, or the
    # whole body takes longer than body_timeout_seconds (a campaign upload: plus its length at
    # 100 KB/s, up to upload_timeout_seconds).
    body_idle_timeout_seconds: float = Field(default=10.0, gt=0)
    body_timeout_seconds: float = Field(default=30.0, gt=0)
    upload_timeout_seconds: float = Field(default=900.0, gt=0)
    # The HTTP server (pvideo/cli/serve.py): request line and headers within header_timeout_seconds
    # and max_header_kb; idle keep-alive connections closed after keep_alive_seconds; past
    # max_connections open connections per server process, new requests get 503.
    header_timeout_seconds: float = Field(default=10.0, gt=0)
    max_header_kb: int = Field(default=64, ge=8)
    keep_alive_seconds: int = Field(default=5, ge=1)
    max_connections: int = Field(default=1000, ge=1)
    # Presigned storage URLs handed to viewers live this long (at most 5 min): a revoked link's
    # media stops within it, as every media request re-checks the viewer token first.
    presigned_url_seconds: int = Field(default=300, ge=10, le=300)
    # Addresses (IPs or CIDRs, comma-separated; "*" for any) of reverse proxies whose
    # X-Forwarded-For/-Proto are believed: the client address for throttling, https for cookies.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Dashboard cookies are Secure when the request is https; true makes them Secure always.
    cookie_secure: bool = False
    eta_window_seconds: float = Field(default=300.0, gt=0)
    webhook_secret: str | None = Field(default=None, repr=False)
    webhook_timeout: float = Field(default=10.0, gt=0)
    webhook_max_retries: int = Field(default=8, ge=0)
    # Deliver webhooks to private/loopback addresses (tests, receivers on a trusted intranet); never link-local.
    webhook_allow_private: bool = False
    # Campaign webhook subscriptions (pvideo/jobs/deliveries.py, workers/deliverer.py): every worker and
    # API process polls for due deliveries every webhook_poll_seconds (at once when an answer comes in),
    # POSTs up to webhook_delivery_threads at a time, and retries a failure after webhook_backoff_seconds
    # doubling per attempt (with jitter, at most webhook_backoff_max_seconds) until
    # webhook_max_attempts have failed.
    webhook_poll_seconds: float = Field(default=0.25, gt=0, le=60)
    webhook_delivery_threads: int = Field(default=16, ge=1, le=64)
    # Which processes send them: "auto" = the `pvideo worker`s when there is a Redis queue (the API
    # then only writes them and answers viewers as fast with subscriptions as without; on PostgreSQL
    # the workers are woken at the API's commit), else the API process (embedded mode); or "api",
    # "workers", "all".
    webhook_senders: Literal["auto", "api", "workers", "all"] = "auto"
    webhook_backoff_seconds: float = Field(default=2.0, gt=0)
    webhook_backoff_max_seconds: float = Field(default=300.0, gt=0)
    webhook_max_attempts: int = Field(default=8, ge=1, le=100)
    # Where the HubSpot preset posts form submissions (HubSpot's Forms API; tests point it at a local receiver).
    hubspot_forms_url: str = "https://api.hsforms.com"
    # Image layers may fetch http(s) URLs (pvideo/plan/fetch.py); private and loopback addresses
    # are refused unless this is on (tests, trusted intranets). Link-local never is.
    fetch_allow_private: bool = False
    # Retention (pvideo/privacy/retention.py; a campaign's own `retention` overrides each): raw events
    # and answers are folded into counts and deleted after retention_events_days; a render's outputs
    # are deleted retention_outputs_days after its campaign's end (ends_at, else completion); None
    # keeps them. "after_render" clears a customer row's data once its render is done (storage-less).
    # One process of the deployment applies them every retention_interval_seconds.
    retention_events_days: int | None = Field(default=None, ge=0)
    retention_outputs_days: int | None = Field(default=None, ge=0)
    retention_row_data: Literal["keep", "after_render"] = "keep"
    retention_interval_seconds: float = Field(default=3600.0, gt=0)
    log_format: str = "json"

    @field_validator("api_keys", "trusted_proxies", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [k.strip() for k in value.split(",") if k.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_addresses(cls, value: list[str]) -> list[str]:
        for entry in value:
            if entry != "*":
                try:
                    ipaddress.ip_network(entry, strict=False)
                except ValueError:
                    raise ValueError(f"PVIDEO_TRUSTED_PROXIES: {entry!r} is not an IP address or CIDR") from None
        return value

    @field_validator("secret_key")
    @classmethod
    def _strong_secret(cls, value: str | None) -> str | None:
        if value is not None and len(value) < _MIN_SECRET_LEN:
            raise ValueError(f"PVIDEO_SECRET_KEY must be at least {_MIN_SECRET_LEN} characters")
        return value

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, value: str) -> str:
        if value not in ("json", "text"):
            raise ValueError("PVIDEO_LOG_FORMAT must be 'json' or 'text'")
        return value

    @field_validator("public_base_url", "hubspot_forms_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'pvideo.db').resolve()}"

    @property
    def resolved_storage_url(self) -> str:
        return self.storage_url or f"file://{(self.data_dir / 'storage').resolve()}"

    @property
    def ffmpeg_exe(self) -> str:
        if self.ffmpeg:
            return self.ffmpeg
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()

    def sends_webhooks(self, process: Literal["api", "worker"]) -> bool:
        """Whether a process of this kind runs a webhook deliverer (``webhook_senders``)."""
        senders = self.webhook_senders
        if senders == "auto":
            senders = "workers" if self.redis_url else "api"
        return senders == "all" or senders == ("api" if process == "api" else "workers")

    @cached_property
    def signing_key(self) -> str:
        """PVIDEO_SECRET_KEY, or a random key kept in the data folder (embedded mode)."""
        if self.secret_key:
            return self.secret_key
        return _persistent_secret(self.data_dir / "secret.key")

    @property
    def webhook_signing_key(self) -> str:
        """PVIDEO_WEBHOOK_SECRET, or one derived from the signing key (never the key itself)."""
        if self.webhook_secret:
            return self.webhook_secret
        return hmac.new(self.signing_key.encode(), b"pvideo-webhooks", hashlib.sha256).hexdigest()

    @property
    def webhook_lease_seconds(self) -> float:
        """How long a claimed delivery stays with its process: past one attempt's connect and read
        timeouts, so a process killed mid-delivery leaves the row to the others."""
        return 2 * self.webhook_timeout + 5

    @cached_property
    def effective_api_keys(self) -> list[str]:
        """PVIDEO_API_KEYS, or one random key kept in the data folder (embedded mode)."""
        if self.api_keys:
            return list(self.api_keys)
        return [_persistent_secret(self.data_dir / "api.key")]


def _persistent_secret(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    path.write_text(value + "\n")
    path.chmod(0o600)
    return value
