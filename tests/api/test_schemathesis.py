"""Schemathesis over the app's OpenAPI schema: no request, valid or not, gets a 5xx.

The app runs as production does, on PostgreSQL and Redis (the renders it queues
wait in a Redis database of their own; no worker takes them), with a valid API
key on every request. Every phase runs: the schema's examples, coverage
(boundary and invalid values for each parameter and body field), fuzzing, and
stateful sequences that follow the links Schemathesis infers (submit a
campaign, then read, cancel, retry it, list its renders...). The run is
bounded: a few examples per operation, short stateful sequences.
"""

from __future__ import annotations

import contextlib
from collections import Counter

import pytest
import redis
import schemathesis
import yaml
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky

from tests.conftest import API_KEY, CARD_SCENE
from tests.services import REDIS_URL, unavailable

HEADERS = {"X-API-Key": API_KEY}
FUZZ_EXAMPLES = 40
STATEFUL_SCENARIOS = 60
STATEFUL_ROUNDS = (6, 8, 10, 12, 14)  # steps per sequence, one round each
REDIS_DB = 13  # the queued renders of this module only


@pytest.fixture(scope="module")
def app(postgres_url, tmp_path_factory, assets_dir):
    from api.main import create_app
    from pvideo.runtime import Runtime
    from pvideo.settings import Settings

    queue_url = REDIS_URL.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    queue = redis.Redis.from_url(queue_url, socket_connect_timeout=2)
    try:
        queue.flushdb()
    except redis.RedisError as exc:
        unavailable("Redis", exc)
    root = tmp_path_factory.mktemp("schemathesis")
    scenes = root / "scenes"
    scenes.mkdir()
    # the schema's example submits to "welcome": let it exist, so the stateful phase has campaigns to follow
    (scenes / "welcome.yaml").write_text(yaml.safe_dump({**CARD_SCENE, "name": "welcome"}))
    runtime = Runtime.from_settings(
        Settings(
            data_dir=root / "data",
            database_url=postgres_url,
            redis_url=queue_url,
            assets_dir=assets_dir,
            scenes_dir=scenes,
            secret_key="f" * 40,
            api_keys=[API_KEY],
            public_base_url="http://testserver",
            webhook_allow_private=False,
        )
    )
    yield create_app(runtime=runtime)
    runtime.db.dispose()
    queue.flushdb()
    queue.close()


@pytest.fixture(scope="module")
def api_schema(app):
    config = schemathesis.Config.from_dict(
        {
            "headers": HEADERS,
            "generation": {"max-examples": FUZZ_EXAMPLES, "mode": "all", "deterministic": True},
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": True, "max-steps": max(STATEFUL_ROUNDS)},
            },
            "suppress-health-check": ["all"],
        }
    )
    loaded = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
    loaded.hook(flatmap_body)
    return loaded


def flatmap_body(context, body):
    """Half the campaign submissions name the scene that exists: random names only reach the 404,
    and the stateful phase needs real campaigns to read, cancel and retry."""
    operation = context.operation
    if operation is not None and operation.path == "/api/campaigns" and isinstance(body, dict) and "scene" in body:
        return st.sampled_from([body, {**body, "scene": "welcome"}])
    return st.just(body)


schema = schemathesis.pytest.from_fixture("api_schema")


ANSWERS: Counter[tuple[str, int]] = Counter()  # (operation, status) of every request sent, for the checks below


def _check(case, response, server_errors: list[str]) -> None:
    ANSWERS[(f"{case.method} {case.path}", response.status_code)] += 1
    if response.status_code >= 500:
        server_errors.append(
            f"{case.method} {case.formatted_path}: {response.status_code} query={case.query} "
            f"body={str(case.body)[:200]!r} -> {response.text[:200]!r}"
        )
    assert response.status_code < 500, server_errors[-1]


@schema.parametrize()
def test_no_server_error_per_operation(case):
    """Examples, coverage and fuzzing: every generated request answers below 500."""
    _check(case, case.call(headers=HEADERS), [])


def test_no_server_error_in_stateful_sequences(api_schema):
    """Sequences that follow links between operations; then, that they reached real campaigns."""
    server_errors: list[str] = []
    machine = api_schema.as_state_machine()

    class NoServerErrors(machine):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case):
            return {"headers": HEADERS}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            _check(case, response, server_errors)

    before = ANSWERS.copy()
    # Replaying a sequence against a server whose state moved on (a campaign now exists, an
    # Idempotency-Key now replays) takes other branches: Hypothesis calls that Flaky and stops the
    # round, and Schemathesis's own runner ignores it too; every answer was checked as it came.
    # So the rounds: each is deterministic, and a different step count draws other sequences.
    for steps in STATEFUL_ROUNDS:
        with contextlib.suppress(Flaky):
            NoServerErrors.run(
                settings=hypothesis_settings(
                    max_examples=STATEFUL_SCENARIOS,
                    stateful_step_count=steps,
                    deadline=None,
                    derandomize=True,
                    database=None,
                    suppress_health_check=list(HealthCheck),
                )
            )
    assert not server_errors, "\n".join(server_errors[:20])
    stateful = ANSWERS - before
    # bounded, which keeps the run short: a request per step, STATEFUL_SCENARIOS sequences of each
    # round's steps (2,928 of the 3,000 that allows, measured), twice that for the draws Hypothesis
    # rejects and does not count as scenarios
    sent = sum(stateful.values())
    assert 1000 <= sent <= 2 * STATEFUL_SCENARIOS * sum(STATEFUL_ROUNDS), f"{sent} requests"
    assert stateful[("POST /api/campaigns", 201)] >= 20
    followed = {op for (op, status), n in stateful.items() if status == 200 and "{campaign_id}" in op}
    assert len(followed) >= 3, followed  # e.g. the campaign, its renders, its manifest, its analytics
