"""Schemathesis over the OpenAPI spec, in process: no endpoint answers 5xx to any generated request."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tests.conftest import API_KEY

schemathesis = pytest.importorskip("schemathesis")

EXAMPLES = 25


@pytest.fixture(scope="module")
def app(tmp_path_factory, assets_dir, scenes_dir):
    from api.main import create_app
    from pvideo.runtime import Runtime
    from pvideo.settings import Settings

    root = tmp_path_factory.mktemp("fuzz")
    runtime = Runtime.from_settings(
        Settings(
            data_dir=root,
            assets_dir=assets_dir,
            scenes_dir=scenes_dir,
            secret_key="f" * 40,
            api_keys=[API_KEY],
            public_base_url="http://testserver",
        )
    )
    yield create_app(runtime=runtime)
    runtime.db.dispose()


def _operations(app):
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


def _fuzz(operation, failures: list[str]) -> None:
    """``EXAMPLES`` generated requests to ``operation``, with and without a key; 5xx answers go to ``failures``."""

    @hsettings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(), with_key=st.booleans())
    def fuzz(case, with_key):
        headers = {"X-API-Key": API_KEY} if with_key else {}
        response = case.call(headers=headers)
        if response.status_code >= 500:
            failures.append(
                f"{operation.method.upper()} {operation.path}: {response.status_code} "
                f"{case.path_parameters} {case.query} {str(case.body)[:200]}"
            )

    fuzz()


def test_no_server_errors_on_any_endpoint(app):
    operations = _operations(app)
    assert len(operations) >= 15
    failures: list[str] = []
    for operation in operations:
        _fuzz(operation, failures)
    assert not failures, "\n".join(failures[:20])
