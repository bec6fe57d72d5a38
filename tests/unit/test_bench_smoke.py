"""The benchmarks' pure helpers: percentiles, summaries, ratios, verdicts, tables, IdP-call classification."""

from __future__ import annotations

import pytest
from bench.scenario import claims, classify, mapping_rules, response_limit_needed
from bench.stats import fmt_ms, fmt_ratio, markdown_table, percentile, ratio, summarize, verdict

from netbox_sso.core.rules import parse_config


def test_percentile_interpolates_between_closest_ranks():
    values = [4.0, 1.0, 3.0, 2.0]
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 4.0
    assert percentile(values, 50) == 2.5
    assert percentile(list(range(1, 101)), 95) == pytest.approx(95.05)
    assert percentile([7.0], 95) == 7.0


@pytest.mark.parametrize("values, p", [([], 50), ([1.0], -1), ([1.0], 101)])
def test_percentile_rejects_bad_input(values, p):
    with pytest.raises(ValueError):
        percentile(values, p)


def test_summary_ratio_and_verdict():
    summary = summarize([0.010, 0.020, 0.030])
    assert summary is not None and (summary.n, summary.median, summary.minimum, summary.maximum) == (
        3,
        0.020,
        0.010,
        0.030,
    )
    assert summarize([]) is None
    assert ratio(3.0, 2.0) == 1.5
    assert ratio(None, 2.0) is None and ratio(1.0, 0.0) is None
    assert (verdict(True), verdict(False), verdict(None)) == ("met", "**MISSED**", "not measured")
    assert (fmt_ms(0.01234), fmt_ms(None), fmt_ratio(1.234), fmt_ratio(None)) == ("12.3", "-", "1.23", "-")


def test_markdown_table_pads_and_escapes():
    table = markdown_table(["a", "bb"], [[1, "x|y"], ["long", 2]])
    assert table.splitlines() == [
        "| a    | bb   |",
        "|------|------|",
        "| 1    | x\\|y |",
        "| long | 2    |",
    ]
    with pytest.raises(ValueError):
        markdown_table(["a"], [[1, 2]])


def test_classify_counts_devidp_requests_by_endpoint():
    log = [
        ("GET", "/generic/.well-known/openid-configuration"),
        ("GET", "/generic/jwks"),
        ("GET", "/generic/authorize"),
        ("POST", "/generic/authorize"),
        ("POST", "/generic/token"),
        ("GET", "/generic/userinfo"),
        ("GET", "/generic/logout"),
    ]
    assert classify(log) == {"discovery": 1, "jwks": 1, "authorize": 2, "token": 1, "userinfo": 1, "other": 1}


def test_bench_rules_parse_and_every_user_carries_the_required_group():
    rules = parse_config(mapping_rules(1000)).backends["oidc"]
    assert len(rules.group_map) + len(rules.group_patterns) == 1000
    assert claims("u", 1)["groups"] == ["g00000"] and len(claims("u", 5000)["groups"]) == 5000
    assert response_limit_needed(5000) is None  # 5,000 groups fit the default max_response_bytes
    assert response_limit_needed(200_000) is not None


def _probe_module():
    """bench/plugin/nbbench/middleware.py alone (its package __init__ needs a configured NetBox)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "bench" / "plugin" / "nbbench" / "middleware.py"
    spec = importlib.util.spec_from_file_location("nbbench_middleware_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "sql, kind",
    [
        ('SAVEPOINT "s1_x1"', "savepoint"),
        ('RELEASE SAVEPOINT "s1_x1"', "savepoint"),
        ('ROLLBACK TO SAVEPOINT "s1_x1"', "savepoint"),
        ('SELECT "a"."id" FROM "users_group" INNER JOIN "users_user_groups" ON (1=1)', "users_group"),
        ('INSERT INTO "users_user_groups" ("user_id") SELECT * FROM UNNEST((%s)::bigint[])', "users_user_groups"),
        ('UPDATE "django_session" SET "session_data" = %s', "django_session"),
        ('DELETE FROM "social_auth_association" WHERE id IN (%s)', "social_auth_association"),
        ("SELECT 1", "other"),
    ],
)
def test_probe_classifies_statements_by_first_table(sql, kind):
    assert _probe_module().statement_kind(sql) == kind


def test_tables_header_round_trip():
    from bench.runner import parse_tables

    assert parse_tables("savepoint=6;users_user=3") == {"savepoint": 6, "users_user": 3}
    assert parse_tables("") == {} and parse_tables("junk;x=") == {}


# ---- bench.scim_http: the SCIM first-sync client, against a fake SCIM server at a tiny size --------------------
def _fake_scim_server(throttle_first: int = 0):
    """A loopback HTTP server answering SCIM as NetBox does (ids, bench headers); the first N requests get 429."""
    import itertools
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    counter = itertools.count()
    seen: list[tuple[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        def _answer(self, status: int, body: dict | None, headers: dict | None = None) -> None:
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            for name, value in {"Content-Length": str(len(data)), "X-Bench-Queries": "3", **(headers or {})}.items():
                self.send_header(name, value)
            self.send_header("X-Bench-Server-Ms", "1.5")
            self.end_headers()
            self.wfile.write(data)

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"null")
            n = next(counter)
            seen.append((self.command, self.path.split("?")[0]))
            if n < throttle_first:
                return self._answer(429, {"status": "429"}, {"Retry-After": "0"})
            if self.command == "GET":
                return self._answer(200, {"totalResults": 0, "Resources": []})
            return self._answer(201 if self.command == "POST" else 200, {"id": f"id-{n}", **(body or {})})

        do_GET = do_POST = do_PUT = do_PATCH = _any

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


@pytest.mark.parametrize("style", ["entra", "okta"])
def test_scim_http_first_sync_replays_the_providers_sequence_and_reports_it(style):
    from bench.scim_http import first_sync, kind_rows, render

    server, seen = _fake_scim_server(throttle_first=2)
    try:
        result = first_sync(
            f"http://127.0.0.1:{server.server_address[1]}/scim/v2",
            "nbscim_x",
            style=style,
            users=12,
            groups=3,
            concurrency=3,
            batch=2,
            budget=60,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result.complete and result.failures == 0 and result.timeouts == 0
    assert result.throttled == 2  # retried after Retry-After, not failed
    rows = {row.kind: row for row in kind_rows(result.samples)}
    assert rows["POST /Users"].count == 12 and rows["POST /Groups"].count == 3
    if style == "entra":
        assert rows["PATCH members (2)"].count == 6 and rows["lookup group"].count == 3 and "probe" in rows
        assert ("PUT", "/scim/v2/Groups/") not in {(m, p.rsplit("/", 1)[0] + "/") for m, p in seen}
    else:
        assert rows["PUT /Groups (4 members)"].count == 3 and "probe" not in rows
    assert rows["lookup user"].queries_max == 3 and rows["lookup user"].server_ms_median == 1.5
    report = render([result], {"machine": "test"})
    assert f"| {style} " in report and "| POST /Users " in report and "- machine: test" in report


def test_scim_http_sizes_parse_and_reject_garbage():
    import argparse

    from bench.scim_http import _size

    assert _size("10000x1000") == (10000, 1000)
    with pytest.raises(argparse.ArgumentTypeError):
        _size("10k")
