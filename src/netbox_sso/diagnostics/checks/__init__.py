"""The checks of `netbox-sso check`, one module per topic; `netbox_sso.diagnostics.static` runs them.

Every check is `check_x(settings, ctx) -> Iterator[Finding]`: it reads the configuration file's values
(`NetBoxSettings`) and what several checks share (`Context`), never the network, never Django.
"""
