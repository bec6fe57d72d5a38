"""Diagnostics behind `netbox-sso check`, `doctor` and `redirect-uris`.

- `findings`: the finding model, every finding code, exit codes, JSON and terminal rendering.
- `settings`: NetBox's configuration.py read in isolation (whole namespace plus which names hold string
  literals), and the SSO backends it enables.
- `static`: the checks of `netbox-sso check` (pure: no network, no Django).
- `redirects`: the exact redirect URIs NetBox sends, from BASE_PATH, the public URL and the proxy setup.
- `probes`: the live probes of `netbox-sso doctor` (discovery, TLS, DNS, JWKS, token endpoint, clock,
  redirect URI registration), each with a bounded timeout.
- `symptoms`: the reference manual's Troubleshooting symptoms -> the finding codes that diagnose them.
- `published`: doctor run inside NetBox and its latest result in the shared cache, for the status page.
"""


def latest_doctor_report() -> dict | None:
    """The status page's hook (see netbox_sso.status): the latest doctor result, or None."""
    from netbox_sso.diagnostics.published import latest_doctor_report as latest

    return latest()
