"""bench.scim_http on real NetBox at a tiny size: the benchmark's whole path (gunicorn with several workers, the
bench probe's SQL headers, a concurrent client) keeps working, and concurrent first-sync requests of both
providers' shapes get no error, no 5xx and no 429 at the connection's default rate limit; a connection over
its own limit gets 429 with Retry-After.
"""

from __future__ import annotations

import argparse
import re

import pytest
import requests
from bench.scim_http import SCIM_PATH, kind_rows, run_one

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("style", ["entra", "okta"])
def test_a_concurrent_first_sync_over_http_succeeds_and_reports_sql_per_request(stack, style):
    args = argparse.Namespace(workers=2, threads=2, concurrency=4, batch=10, budget=300.0)
    result = run_one(stack, style, 30, 3, args)
    assert result.complete, result.errors
    assert (result.failures, result.server_errors, result.timeouts, result.throttled) == (0, 0, 0, 0), result.errors
    rows = {row.kind: row for row in kind_rows(result.samples)}
    assert rows["POST /Users"].count == 30 and rows["POST /Groups"].count == 3
    # Every request carries its statement count from the probe (the report's SQL columns are real).
    assert all(sample.queries is not None and sample.queries > 0 for sample in result.samples)


def test_a_connection_over_its_rate_limit_gets_429_with_the_seconds_left_in_the_window(netbox_factory):
    netbox = netbox_factory("")
    out = netbox.manage("sso_scim", "create", "limited", "--backend", "oidc", "--rate-limit", "5")
    token = re.search(r"(nbscim_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43})", out)[1]
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {token}"
        # 12 requests: at most 5 pass per window, so even split across two windows at least 2 are refused.
        answers = [session.get(f"{netbox.url}{SCIM_PATH}/Users", params={"count": "1"}, timeout=30) for _ in range(12)]
    refused = [a for a in answers if a.status_code == 429]
    assert len(refused) >= 2 and {a.status_code for a in answers} <= {200, 429}
    for answer in refused:
        assert 1 <= int(answer.headers["Retry-After"]) <= 60
        assert answer.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
