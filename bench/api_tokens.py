"""Per-request cost of an identity-provider access token against a NetBox API token, on one NetBox.

    NBSSO_REDIS_DB_BASE=10 python -m bench.api_tokens [--requests 300] [--output docs/benchmarks-api-tokens.md]

One NetBox (1 worker, 4 threads) with netbox-sso and `api_tokens` configured, and the bench probe timing
/api/ requests server-side. Two users with the same permissions (the same NetBox group, which grants
view on dcim.site): one calls with a NetBox v2 token, the other with a provider access token (RFC 9068,
from devidp's device flow). After a warm-up, `--requests` rounds alternate the two on
GET /api/dcim/sites/?limit=1 and record the client time (loopback HTTP), the time inside Django and the
SQL statements. Bounded by count and by a time budget; everything started is stopped in `finally`.
"""

from __future__ import annotations

import argparse
import os
import signal
import time
from pathlib import Path
from typing import Any

import requests

from bench import scenario
from bench.runner import REPO, Budget, Lab, _exit_on_sigterm, _services, progress
from bench.stats import fmt_ms, fmt_ratio, markdown_table, ratio, summarize

OUTPUT = REPO / "docs" / "benchmarks-api-tokens.md"
PLUGINS = ("netbox_sso", "nbbench")
PATH = "/api/dcim/sites/?limit=1"
AUDIENCE = "netbox-api"
CLI = "bench-cli"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
VARIANTS = ("netbox token", "provider token")


def config(idp: Any) -> str:
    settings = {
        "backends": {
            "oidc": {
                "groups_claim": "groups",
                "group_map": {"bench-readers": "API Readers"},
                "create_groups": True,
                "permissions": {
                    "API Readers": [{"name": "bench-view-sites", "actions": ["view"], "object_types": ["dcim.site"]}]
                },
            }
        },
        "api_tokens": {"oidc": {"audiences": [AUDIENCE], "read_scopes": ["netbox.read"], "create_users": True}},
    }
    return scenario.stock_config(idp) + f"PLUGINS_CONFIG = {{'netbox_sso': {settings!r}}}\n"


def provider_token(idp: Any, username: str) -> str:
    """A person's access token through devidp's device flow (approved by script)."""
    verify = str(idp.ca_bundle)
    doc = requests.get(idp.discovery_url("generic"), timeout=10, verify=verify).json()
    started = requests.post(
        doc["device_authorization_endpoint"],
        timeout=10,
        verify=verify,
        data={"client_id": CLI, "scope": "openid netbox.read", "resource": AUDIENCE},
    ).json()
    problem = idp.approve_device(started["user_code"], username)
    if problem:
        raise RuntimeError(f"device approval failed: {problem}")
    answer = requests.post(
        doc["token_endpoint"],
        timeout=10,
        verify=verify,
        data={"grant_type": DEVICE_GRANT, "device_code": started["device_code"], "client_id": CLI},
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def netbox_token(instance: Any, group: str) -> str:
    """A NetBox v2 token of a user in `group` (the group the provider token's user is mapped to)."""
    out = instance.shell(
        "from users.models import Group, Token, User\n"
        "u = User.objects.create_user('bench-nb-token')\n"
        f"u.groups.add(Group.objects.get(name={group!r}))\n"
        "t = Token(user=u, version=2, write_enabled=False); t.save()\n"
        "print('HEADER=' + t.get_auth_header_prefix() + t.token)\n"
    )
    return next(line.split("=", 1)[1] for line in out.splitlines() if line.startswith("HEADER="))


def call(url: str, header: str) -> dict[str, float]:
    start = time.perf_counter()
    response = requests.get(url, headers={"Authorization": header, "Accept": "application/json"}, timeout=30)
    client = time.perf_counter() - start
    if response.status_code != 200:
        raise RuntimeError(f"GET {url}: HTTP {response.status_code}: {response.text[:200]}")
    return {
        "client": client,
        "server": float(response.headers.get("X-Bench-Server-Ms", "nan")) / 1000,
        "queries": float(response.headers.get("X-Bench-Queries", "nan")),
    }


def render(samples: dict[str, list[dict[str, float]]], machine: dict[str, str]) -> str:
    rows = []
    for variant in VARIANTS:
        client = summarize([s["client"] for s in samples[variant]])
        server = summarize([s["server"] for s in samples[variant]])
        queries = sorted({int(s["queries"]) for s in samples[variant]})
        rows.append(
            [
                variant,
                client.n if client else 0,
                fmt_ms(client.median if client else None),
                fmt_ms(client.p95 if client else None),
                fmt_ms(server.median if server else None),
                fmt_ms(server.p95 if server else None),
                "/".join(map(str, queries)),
            ]
        )
    nb_server = summarize([s["server"] for s in samples[VARIANTS[0]]])
    ours_server = summarize([s["server"] for s in samples[VARIANTS[1]]])
    factor = ratio(ours_server.median if ours_server else None, nb_server.median if nb_server else None)
    lines = [
        "# Benchmark: API request with a provider access token vs a NetBox token",
        "",
        f"Machine: {machine['cpu']}, load before {machine['load']}; `python -m bench.api_tokens`. "
        "GET /api/dcim/sites/?limit=1, 1 gunicorn worker x 4 threads, requests alternating the two tokens; "
        "both users in the same NetBox group (view dcim.site). Server = time inside Django (bench probe, all "
        "middleware included); statements = SQL statements per request.",
        "",
        markdown_table(
            [
                "token",
                "requests",
                "client median ms",
                "client p95 ms",
                "server median ms",
                "server p95 ms",
                "SQL statements",
            ],
            rows,
        ),
        "",
        f"Provider token / NetBox token, server median: {fmt_ratio(factor)}.",
        "",
        "Steady state: the provider's keys are cached (in Redis, and for 30 s in the worker), so a request makes "
        "no call to the provider; the group mapping is re-applied only when the token's groups change (at most "
        "every 5 minutes for the same groups).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.api_tokens", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="rounds (each: one request per token)")
    parser.add_argument("--output", type=Path, default=None, help=f"markdown file to write (e.g. {OUTPUT})")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    budget = Budget(8 * 60)
    machine = {"cpu": f"{os.cpu_count()} CPU", "load": " ".join(f"{v:.2f}" for v in os.getloadavg())}
    samples: dict[str, list[dict[str, float]]] = {variant: [] for variant in VARIANTS}
    with _services(budget) as (stack, idp):
        lab = Lab(stack, idp)
        idp.register_client(CLI, None)
        idp.device_interval = 0
        idp.upsert_user(
            "bench-api", scenario.claims("bench-api", 0) | {"groups": ["bench-readers"]}, replace_claims=True
        )
        instance = lab.instance("apitokens", config(idp), PLUGINS)
        instance.extra_env["NBBENCH_PREFIXES"] = "/api/"
        progress(f"starting NetBox on {instance.url} (1 worker, 4 threads)")
        instance.start(workers=1, threads=4)
        url = f"{instance.url}{PATH}"
        headers = {VARIANTS[1]: f"Bearer {provider_token(idp, 'bench-api')}"}
        call(url, headers[VARIANTS[1]])  # creates the account and the mapped group
        headers[VARIANTS[0]] = netbox_token(instance, "API Readers")
        for _ in range(20):  # warm-up: caches, connections, the worker's key memo
            for variant in VARIANTS:
                call(url, headers[variant])
        progress(f"{args.requests} rounds, alternating {' / '.join(VARIANTS)}")
        for index in range(args.requests):
            if budget.expired(reserve=30):
                progress(f"stopped after {index} rounds (time budget)")
                break
            for variant in VARIANTS if index % 2 == 0 else VARIANTS[::-1]:
                samples[variant].append(call(url, headers[variant]))
    machine["load"] += f", after {' '.join(f'{v:.2f}' for v in os.getloadavg())}"
    report = render(samples, machine)
    print(report)
    if args.output is not None:
        args.output.write_text(report + "\n")
        progress(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
