"""SCIM first sync at scale: N users and M groups pushed the way Entra ID does, SQL statements per request.

    NBSSO_REDIS_PORT=... PYTHONPATH=src nbsso-slot python -m bench.scim_sync --users 10000 --groups 1000

Runs in one process against a cloned, migrated NetBox database (devstack) through Django's test client, so
it measures NetBox + netbox-sso's server work without HTTP or client noise: the Entra ID probe, one
`userName eq` lookup and one POST per user, one POST per group and its membership in PATCH batches of 10
(Entra ID's batch), each member in one group per 10 users. It prints, per request kind, the count, the
median and maximum SQL statements and server milliseconds, and whether the statement count grew with the
directory (first tenth of the sync against the last tenth). Bounded: every loop runs a fixed count.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
CONFIG = """
PLUGINS_CONFIG = {'netbox_sso': {'backends': {'oidc': {
    'group_map': {f'team-{i}': f'Team {i % 50}' for i in range(0, 1000, 10)},
    'superuser_groups': ['team-0'], 'create_groups': True}}}}
"""


def run_inside(users: int, groups: int) -> dict:
    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    from netbox_sso.scim import tokens

    _, token = tokens.create_connection("bench", "oidc", rate_limit=0)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    base = "/api/plugins/sso/scim/v2"
    samples: dict[str, list[tuple[int, float]]] = defaultdict(list)

    statements = [0]

    def count(execute, sql, params, many, context):  # every statement through Django's cursors
        statements[0] += 1
        return execute(sql, params, many, context)

    def call(kind: str, method: str, path: str, body: dict | None = None, query: str = "") -> dict:
        started = time.perf_counter()
        statements[0] = 0
        with connection.execute_wrapper(count):
            kwargs = {"QUERY_STRING": query} if query else {}
            if body is None:
                response = getattr(client, method)(base + path, **kwargs)
            else:
                response = getattr(client, method)(
                    base + path, data=json.dumps(body), content_type="application/scim+json"
                )
        samples[kind].append((statements[0], (time.perf_counter() - started) * 1000))
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.content[:300]!r}")
        return response.json() if response.content else {}

    started = time.perf_counter()
    call("probe", "get", "/Users", query='filter=userName eq "00000000-0000-0000-0000-000000000000"')
    ids = []
    for index in range(users):
        name = f"user{index:05d}@example.com"
        call("lookup", "get", "/Users", query=f'filter=userName eq "{name}"')
        created = call(
            "create user",
            "post",
            "/Users",
            {
                "schemas": [USER],
                "userName": name,
                "externalId": f"sub-{index}",
                "active": True,
                "name": {"givenName": "User", "familyName": str(index)},
                "emails": [{"value": name, "type": "work", "primary": True}],
            },
        )
        ids.append(created["id"])
    for group in range(groups):
        created = call(
            "create group",
            "post",
            "/Groups",
            {"schemas": [GROUP], "displayName": f"team-{group}", "externalId": f"g-{group}"},
        )
        members = ids[group * users // groups : (group + 1) * users // groups]
        for start in range(0, len(members), 10):
            call(
                "add members (10)",
                "patch",
                f"/Groups/{created['id']}",
                {
                    "schemas": [PATCH],
                    "Operations": [
                        {"op": "Add", "path": "members", "value": [{"value": m} for m in members[start : start + 10]]}
                    ],
                },
            )
    call("list page (100)", "get", "/Users", query="startIndex=1&count=100")
    elapsed = time.perf_counter() - started
    report = {"users": users, "groups": groups, "seconds": round(elapsed, 1), "kinds": {}}
    for kind, values in samples.items():
        counts = [q for q, _ in values]
        tenth = max(1, len(counts) // 10)
        report["kinds"][kind] = {
            "requests": len(values),
            "queries_median": statistics.median(counts),
            "queries_max": max(counts),
            "queries_first_tenth_max": max(counts[:tenth]),
            "queries_last_tenth_max": max(counts[-tenth:]),
            "ms_median": round(statistics.median(ms for _, ms in values), 1),
            "ms_p95": round(sorted(ms for _, ms in values)[int(len(values) * 0.95) - 1 if len(values) > 1 else 0], 1),
        }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--groups", type=int, default=100)
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        print("REPORT " + json.dumps(run_inside(args.users, args.groups)))
        return
    from netbox_sso.devstack.stack import Stack

    stack = Stack(Path(".state/bench-scim").resolve(), progress=lambda line: print(f"[stack] {line}", flush=True))
    instance = stack.new_instance("scimbench")
    try:
        instance.write_config(CONFIG)
        instance.manage("migrate")
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.scim_sync",
                "--inside",
                "--users",
                str(args.users),
                "--groups",
                str(args.groups),
            ],
            env={**instance.env(), "PYTHONPATH": os.pathsep.join([str(Path.cwd()), os.environ.get("PYTHONPATH", "")])},
            capture_output=True,
            text=True,
            timeout=3600,
            check=False,
        )
        line = next((raw for raw in result.stdout.splitlines() if raw.startswith("REPORT ")), None)
        if line is None:
            raise SystemExit(f"bench failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
        report = json.loads(line[7:])
        print(
            f"SCIM first sync: {report['users']} users, {report['groups']} groups, {report['seconds']} s "
            "(one process, no HTTP)"
        )
        print(
            f"{'request':18} {'count':>6} {'SQL med':>8} {'SQL max':>8} {'1st 10% max':>12} {'last 10% max':>13} "
            f"{'ms med':>7} {'ms p95':>7}"
        )
        for kind, row in report["kinds"].items():
            print(
                f"{kind:18} {row['requests']:>6} {row['queries_median']:>8} {row['queries_max']:>8} "
                f"{row['queries_first_tenth_max']:>12} {row['queries_last_tenth_max']:>13} {row['ms_median']:>7} "
                f"{row['ms_p95']:>7}"
            )
    finally:
        stack.release(instance)
        stack.close()


if __name__ == "__main__":
    main()
