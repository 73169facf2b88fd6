"""A campaign submitted while Redis is unreachable is accepted, and renders once Redis is back.

Before the outbox, ``POST /api/campaigns`` committed the campaign, then failed to enqueue its
fan-out and answered 500: the client never learnt the id, and the rows stayed queued for good.
"""

from __future__ import annotations

import time

import pytest

from tests.faults.deployment import Deployment, customer_rows

pytestmark = pytest.mark.faults

OUTAGE = 10.0
RECOVERY = 60.0  # the relay's period (the reconciler's 10 s) + rendering 6 rows


def test_submit_while_redis_is_down_answers_with_the_id_and_renders_later(deployment: Deployment) -> None:
    d = deployment
    d.up("w1")
    d.services.redis.stop()
    down = time.monotonic()
    response = d.submit(customer_rows(6))
    answered_in = time.monotonic() - down
    assert response.status_code in (201, 202), (
        f"submit with Redis down answered {response.status_code} after {answered_in:.1f} s: {response.text[:300]}"
    )
    campaign = response.json()["id"]
    assert response.json()["queued"] == 6
    time.sleep(max(0.0, OUTAGE - (time.monotonic() - down)))
    d.services.redis.start()

    recovered = d.wait_finished(campaign, RECOVERY, f"every row finished within {RECOVERY:.0f} s of Redis's return")
    problems = d.problems(d.renders(campaign))
    assert not problems, "\n".join(problems)
    print(
        f"submit answered {response.status_code} in {answered_in:.1f} s; rows done {recovered:.1f} s after Redis was back"
    )
