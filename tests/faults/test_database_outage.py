"""PostgreSQL goes away mid-campaign; rows stranded by it are recovered, by the workers and by ``retry``.

Before the reconciler, a 35 s outage outlasted the queue's retries: messages were dead-lettered
and their rows could not be marked failed, so the campaign stayed ``queued``/``rendering`` for
good, and ``POST /retry`` answered ``{"queued": 0}``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.faults.deployment import Deployment, customer_rows
from tests.faults.procs import wait_until

pytestmark = pytest.mark.faults

OUTAGE = 35.0  # longer than the queue's own retries (1 + 2 + 4 + 8 s of backoff, doubled by jitter at most)
RECOVERY = 60.0  # reconciler period (10 s) + a lapsed lease (15 s) + rendering what is left


def test_rows_render_after_a_35s_database_outage(deployment: Deployment) -> None:
    """Every row ends ``done``: an outage of the database is no reason to fail a customer's video."""
    d = deployment
    d.up("w1", "w2")
    campaign = d.campaign(customer_rows(30))
    wait_until("3 rows done before the outage", lambda: d.counts(campaign)["done"] >= 3, 90, 0.2, d.logs)

    d.services.pg.stop()
    down = time.monotonic()
    time.sleep(OUTAGE)
    d.services.pg.start()
    outage = time.monotonic() - down

    recovered = d.wait_finished(
        campaign, RECOVERY, f"every row finished within {RECOVERY:.0f} s of PostgreSQL's return"
    )
    rows = d.renders(campaign)
    problems = d.problems(rows)
    assert not problems, "\n".join(problems)
    print(f"database down {outage:.1f} s; every row done {recovered:.1f} s after it was back")


def test_retry_requeues_stranded_rows(deployment: Deployment) -> None:
    """Rows a fault stranded an hour ago: queued with their messages lost, and rendering under a
    lease that lapsed (the worker died). ``retry`` queues them all; a worker then renders them."""
    d = deployment
    d.start_api()
    campaign = d.campaign(customer_rows(6))
    d.services.redis.flush()  # every message of the campaign is lost (dead-lettered, or Redis lost it)
    strand(d, campaign, rendering_rows=(1, 2))
    rows = d.renders(campaign)

    response = d.post(f"/api/campaigns/{campaign}/retry")
    assert response.status_code == 200, response.text
    assert response.json() == {"queued": 6}, f"retry left stranded rows alone: {response.json()}"
    missing = {r.id for r in rows} - d.redis_render_ids()
    assert not missing, f"retry answered 6 but {len(missing)} rows have no message in Redis"

    d.start_worker("w1")
    d.wait_finished(campaign, 60)
    problems = d.problems(d.renders(campaign))
    assert not problems, "\n".join(problems)


def strand(d: Deployment, campaign: str, rendering_rows: tuple[int, ...]) -> None:
    """What an hour-old fault leaves: every row last touched an hour ago, ``rendering_rows`` claimed
    by a worker whose lease ran out then."""
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    columns = {c["name"] for c in sa.inspect(d.engine).get_columns("renders")}
    stamps = ", ".join(f"{c} = :t" for c in ("created_at", "updated_at", "enqueued_at") if c in columns)
    with d.engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE renders SET {stamps} WHERE campaign_id = :c"), {"t": hour_ago, "c": campaign})
        conn.execute(
            sa.text(
                "UPDATE renders SET status = 'rendering', attempts = 1, claimed_until = :t "
                "WHERE campaign_id = :c AND row_number = ANY(:rows)"
            ),
            {"t": hour_ago, "c": campaign, "rows": list(rendering_rows)},
        )
