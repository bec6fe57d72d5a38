"""bench.api_tokens' report and configuration (pure parts; the run itself is never timed in tests)."""

from __future__ import annotations

from bench.api_tokens import AUDIENCE, VARIANTS, render

from netbox_sso.core.access_tokens import parse_api_tokens


def test_the_report_compares_server_medians_and_lists_statements():
    samples = {
        VARIANTS[0]: [{"client": 0.012, "server": 0.010, "queries": 7.0}] * 3,
        VARIANTS[1]: [{"client": 0.013, "server": 0.011, "queries": 6.0}] * 3,
    }
    report = render(samples, {"cpu": "2 CPU", "load": "0.1"})
    assert "| provider token | 3        | 13.0" in report
    assert "server median: 1.10." in report


def test_the_bench_configuration_is_a_valid_api_tokens_block():
    from bench.api_tokens import config

    class FakeIdP:
        def issuer(self, profile: str) -> str:
            return "https://127.0.0.1:1/generic"

    text = config(FakeIdP())
    namespace: dict = {}
    exec(text, namespace)  # the configuration.py text the bench writes
    policy = parse_api_tokens(namespace["PLUGINS_CONFIG"]["netbox_sso"]["api_tokens"])["oidc"]
    assert policy.audiences == (AUDIENCE,) and policy.level({"netbox.read"}) == "read"
