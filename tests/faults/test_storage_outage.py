"""S3 goes away mid-campaign, refusing connections or hanging them: every row still renders, once.

Before the fix, storage errors were retried by the queue, a whole render each time, once
botocore's own five tries (about 15 s of backoff on average, 30 s at most) were spent: a 10 s
outage could use 4 of a row's 5 attempts, and a 35 s one failed 22 of 30 rows until a manual
retry. Storage calls now retry inside the attempt with backoff (for
``PVIDEO_STORAGE_RETRY_SECONDS``, 120 s by default), so an outage shorter than that costs no
attempt at all.
"""

from __future__ import annotations

import time

import pytest

from tests.faults.deployment import Deployment, RenderRow, customer_rows
from tests.faults.procs import wait_until
from tests.faults.proxy import S3Proxy

pytestmark = pytest.mark.faults


def cut(d: Deployment, campaign: str, cuts: dict[S3Proxy, str], seconds: float) -> list[int]:
    """Once two rows are done and others rendering, cut S3 off for ``seconds`` (each proxy: "off" or "freeze"); the
    rows rendering when the outage began."""

    def mid_campaign() -> bool:
        counts = d.counts(campaign)
        return counts["done"] >= 2 and counts["rendering"] >= 1

    wait_until("2 rows done and one rendering before the outage", mid_campaign, 90, 0.05, d.logs)
    for proxy, mode in cuts.items():
        getattr(proxy, mode)()
    began = time.monotonic()
    in_flight = [r.row_number for r in d.renders(campaign) if r.status == "rendering"]
    time.sleep(max(0.0, seconds - (time.monotonic() - began)))
    for proxy in cuts:
        proxy.on()
    return in_flight


def attempt_problems(rows: list[RenderRow]) -> list[str]:
    return [f"row {r.row_number}: {r.attempts} attempts" for r in rows if r.attempts != 1]


def test_a_10s_storage_outage_costs_no_render_attempt(deployment: Deployment) -> None:
    d = deployment
    d.up("w1")
    campaign = d.campaign(customer_rows(8))
    in_flight = cut(d, campaign, {d.proxy: "off"}, 10)
    recovered = d.wait_finished(campaign, 30, "every row finished within 30 s of S3's return")

    rows = d.renders(campaign)
    problems = d.problems(rows) + attempt_problems(rows)
    assert not problems, f"rows rendering when S3 went away: {in_flight}\n" + "\n".join(problems)
    print(f"rows {in_flight} in flight; every row done {recovered:.1f} s after S3 was back, one attempt each")


def test_a_60s_storage_outage_refused_or_hung_completes_every_row(deployment: Deployment) -> None:
    """One 60 s outage seen two ways at once: machine ``refused`` gets connection refusals (and
    resets of its open connections), machine ``hung`` gets connections that are accepted and
    never answered until S3 is back. Every row completes, with no manual retry and no attempt
    beyond the first."""
    d = deployment
    hung_path = d.new_proxy()
    d.wait_ready(
        d.start_api(wait=False),
        d.start_worker("refused", wait=False),
        d.start_worker("hung", proxy=hung_path, wait=False),
    )
    campaign = d.campaign(customer_rows(12))
    in_flight = cut(d, campaign, {d.proxy: "off", hung_path: "freeze"}, 60)
    recovered = d.wait_finished(campaign, 60, "every row finished within 60 s of S3's return")

    rows = d.renders(campaign)
    problems = d.problems(rows) + attempt_problems(rows)
    if hung_path.held == 0:
        problems.append("the hung machine sent nothing during the freeze: its outage was not exercised")
    assert not problems, f"rows rendering when S3 went away: {in_flight}\n" + "\n".join(problems)
    print(f"rows {in_flight} in flight; every row done {recovered:.1f} s after S3 was back, one attempt each")
