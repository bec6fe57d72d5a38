"""nbbench: a bench-only NetBox plugin that measures SSO requests server-side (never for production).

Its middleware is moved to the front of MIDDLEWARE, so it wraps the session, CSRF and authentication
middleware as well as the view. It is installed the same way in stock NetBox and in NetBox with
netbox-sso: PYTHONPATH=bench/plugin and PLUGINS += ['nbbench'].
"""

from __future__ import annotations

from netbox.plugins import PluginConfig

MIDDLEWARE_PATH = "nbbench.middleware.BenchMiddleware"


class NBBenchConfig(PluginConfig):
    name = "nbbench"
    verbose_name = "Benchmark probe"
    description = "Counts SQL statements and times /oauth/ requests (bench/ only)"
    version = "0.1.0"
    base_url = "nbbench"

    def ready(self) -> None:
        super().ready()
        from django.conf import settings

        # The handler reads MIDDLEWARE after apps are ready, so outermost placement takes effect here.
        if MIDDLEWARE_PATH not in settings.MIDDLEWARE:
            settings.MIDDLEWARE.insert(0, MIDDLEWARE_PATH)


config = NBBenchConfig
