"""Helpers of the scale suite: a load balancer in the client, bounded concurrent logins, DB checks, figures.

`Balancer` stands in for the load balancer in front of several NetBox instances: every request of a
`requests.Session` goes to the instance a policy picks (per request, so no stickiness), with the public
Host header and URL kept, exactly as a reverse proxy preserving Host does. NetBox therefore builds the
same redirect URI on every instance, and a login can begin on one and complete on another.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from netbox_sso.devstack.login import LoginResult, _finish, find_sso_form, sso_login
from netbox_sso.devstack.netbox import NetBoxInstance

#: Every figure printed by the suite, collected for the closing summary (`pytest -s` shows it).
FIGURES: list[str] = []

Policy = Callable[[requests.PreparedRequest], NetBoxInstance]


class Balancer(HTTPAdapter):
    """Route each request for the public URL to an instance chosen by `policy`; record where it went."""

    def __init__(
        self,
        public: NetBoxInstance,
        instances: list[NetBoxInstance],
        policy: Policy | None = None,
        log: list[tuple[str, str, str, int]] | None = None,
    ) -> None:
        super().__init__(pool_connections=len(instances), pool_maxsize=4)
        self.public = public
        self.instances = instances
        self.policy = policy or self.alternate
        self.log = log if log is not None else []
        self._turn = 0
        self._lock = threading.Lock()

    def alternate(self, request: requests.PreparedRequest) -> NetBoxInstance:
        with self._lock:
            self._turn += 1
            return self.instances[self._turn % len(self.instances)]

    def mount_on(self, session: requests.Session) -> requests.Session:
        for instance in self.instances:
            session.mount(f"{instance.url}/", self)
        return session

    def send(self, request: requests.PreparedRequest, **kwargs) -> requests.Response:  # type: ignore[override]
        target = self.policy(request)
        public_url = request.url or ""
        parts = urlsplit(public_url)
        request.url = urlunsplit(parts._replace(netloc=f"{target.host}:{target.port}"))
        request.headers["Host"] = f"{self.public.host}:{self.public.port}"
        # A new connection per request, as a load balancer's backend pool may: a pooled connection left
        # idle on one instance while the other served the login would race gunicorn's keep-alive close.
        request.headers["Connection"] = "close"
        try:
            response = super().send(request, **kwargs)
        finally:
            request.url = urlunsplit(parts._replace(netloc=f"{self.public.host}:{self.public.port}"))
        response.url = request.url
        self.log.append((request.method or "", parts.path, target.url, response.status_code))
        return response


@dataclass
class LoadRun:
    """What a bounded run of concurrent logins did."""

    planned: int
    concurrency: int
    results: list[tuple[str, int, LoginResult | None, str]] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    #: (monotonic time, HTTP status, path) of every response from NetBox or the IdP.
    events: list[tuple[float, int, str]] = field(default_factory=list)
    wall: float = 0.0
    timed_out: bool = False

    @property
    def done(self) -> int:
        return len(self.results)

    @property
    def ok(self) -> int:
        return sum(1 for _, _, result, _ in self.results if result is not None and result.logged_in)

    @property
    def failures(self) -> list[tuple[str, int, str]]:
        return [
            (user, n, error or (result.message_text if result else ""))
            for user, n, result, error in self.results
            if result is None or not result.logged_in
        ]


def run_logins(
    users: Iterable[str],
    rounds: int,
    *,
    concurrency: int,
    session_factory: Callable[[], requests.Session],
    netbox_url: str,
    verify: str,
    time_limit: float,
    before: Callable[[str, int], None] | None = None,
    between: Callable[[int], None] | None = None,
    pause_after_failure: float = 0.0,
) -> LoadRun:
    """Each user logs in `rounds` times in a row (a fresh browser session each time), `concurrency` users
    at once. Stops by itself at `time_limit` seconds. `before(user, n)` runs before each login (e.g. to
    change the user's claims); `between(k)` after the k-th completed login (to inject a fault)."""
    names = list(users)
    run = LoadRun(planned=len(names) * rounds, concurrency=concurrency)
    deadline = time.monotonic() + time_limit
    lock = threading.Lock()

    def user_loop(user: str) -> None:
        for n in range(rounds):
            if time.monotonic() > deadline:
                run.timed_out = True
                return
            if before:
                before(user, n)
            session = session_factory()
            session.hooks["response"].append(lambda response, *a, **k: _count(run, lock, response))
            result: LoginResult | None = None
            error = ""
            try:
                result = sso_login(netbox_url, "oidc", user, session=session, verify=verify, timeout=30)
            except Exception as exc:  # a failed login is a figure, not a crash of the run
                request = getattr(exc, "request", None)
                error = f"{type(exc).__name__}: {getattr(request, 'url', '')} {exc}"[:400]
            finally:
                session.close()
            with lock:
                run.results.append((user, n, result, error))
                completed = len(run.results)
            if between:
                between(completed)
            if pause_after_failure and (result is None or not result.logged_in):
                time.sleep(pause_after_failure)  # a person retries after a moment, not in a tight loop

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="login") as pool:
        for future in [pool.submit(user_loop, user) for user in names]:
            future.result()
    run.wall = time.monotonic() - started
    return run


def _count(run: LoadRun, lock: threading.Lock, response: requests.Response) -> None:
    with lock:
        run.statuses[response.status_code] += 1
        run.events.append((time.monotonic(), response.status_code, urlsplit(response.url).path))


def classify(result: LoginResult | None, error: str) -> str:
    """ok | login_page_message (NetBox's login page said why) | browser_to_idp (the browser's own leg to the
    IdP failed: nothing NetBox could show) | bad (anything else: a 500, a blank page, a hang)."""
    if result is not None and result.logged_in:
        return "ok"
    if (
        result is not None
        and urlsplit(result.final_url).path == "/login/"
        and result.status_code == 200
        and result.messages
    ):
        return "login_page_message"
    if error.startswith(("ConnectionError", "SSLError")) and "/generic/authorize" in error.split(" ", 2)[1]:
        return "browser_to_idp"
    return "bad"


def outcomes(run: LoadRun) -> Counter:
    return Counter(classify(result, error) for _user, _n, result, error in run.results)


def figure(line: str) -> None:
    """Print a figure now and keep it for the closing summary."""
    FIGURES.append(line)
    print(f"[scale] {line}", flush=True)


# ---- database checks (plain SQL, independent of the code under test) ---------------------------------
def db_state(instance: NetBoxInstance, usernames: list[str]) -> dict[str, dict]:
    """username -> {"rows": users with that name, "links": social links, "groups": set of group names}."""
    with instance.db() as conn:
        rows = conn.execute(
            "SELECT u.username, u.id, (SELECT count(*) FROM social_auth_usersocialauth s WHERE s.user_id = u.id), "
            "COALESCE((SELECT array_agg(g.name) FROM users_user_groups ug JOIN users_group g ON g.id = ug.group_id "
            "WHERE ug.user_id = u.id), '{}') FROM users_user u WHERE lower(u.username) = ANY(%s)",
            ([name.lower() for name in usernames],),
        ).fetchall()
    state: dict[str, dict] = {}
    for username, _uid, links, groups in rows:
        entry = state.setdefault(username, {"rows": 0, "links": 0, "groups": set()})
        entry["rows"] += 1
        entry["links"] += links
        entry["groups"] |= set(groups)
    return state


def duplicates(instance: NetBoxInstance) -> dict[str, list]:
    """Rows that must be unique by meaning but have no unique constraint, or names differing by case."""
    with instance.db() as conn:
        return {
            "usernames_ci": conn.execute(
                "SELECT lower(username) FROM users_user GROUP BY 1 HAVING count(*) > 1"
            ).fetchall(),
            "groups": conn.execute("SELECT name FROM users_group GROUP BY 1 HAVING count(*) > 1").fetchall(),
            "social_links": conn.execute(
                "SELECT provider, uid FROM social_auth_usersocialauth GROUP BY 1, 2 HAVING count(*) > 1"
            ).fetchall(),
            "object_permissions": conn.execute(
                "SELECT name FROM users_objectpermission GROUP BY 1 HAVING count(*) > 1"
            ).fetchall(),
        }


def orphans(instance: NetBoxInstance, prefix: str) -> list[str]:
    """SSO users (name starting with `prefix`) without their social link: half-provisioned."""
    with instance.db() as conn:
        return [
            row[0]
            for row in conn.execute(
                "SELECT username FROM users_user u WHERE username LIKE %s AND NOT EXISTS "
                "(SELECT 1 FROM social_auth_usersocialauth s WHERE s.user_id = u.id)",
                (f"{prefix}%",),
            )
        ]


def log_offset(*instances: NetBoxInstance) -> Mapping[str, int]:
    """Current size of each log, so a test reads only what it caused."""
    return {str(p): p.stat().st_size if p.exists() else 0 for i in instances for p in (i.log_file, i.gunicorn_log)}


def error_traces(offsets: Mapping[str, int], *instances: NetBoxInstance) -> list[str]:
    """The logged 'Internal Server Error' entries (with their traceback) since `offsets`."""
    traces: list[str] = []
    for instance in instances:
        path = instance.log_file
        if path.exists():
            with path.open("rb") as fh:
                fh.seek(offsets.get(str(path), 0))
                text = fh.read().decode(errors="replace")
            entries = re.split(r"\n(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ )", text)
            traces += [entry for entry in entries if "Internal Server Error" in entry.split("\n", 1)[0]]
    return traces


def new_server_errors(offsets: Mapping[str, int], *instances: NetBoxInstance) -> list[str]:
    lines: list[str] = []
    for instance in instances:
        for path in (instance.log_file, instance.gunicorn_log):
            if path.exists():
                with path.open("rb") as fh:
                    fh.seek(offsets.get(str(path), 0))
                    text = fh.read().decode(errors="replace")
                lines += [line for line in text.splitlines() if "Internal Server Error" in line]
    return lines


# ---- a login in two halves (to put a fault between the IdP's sign-in and NetBox's callback) ------------
def authorize(session: requests.Session, netbox_url: str, username: str, verify: str) -> str:
    """Begin at NetBox and sign in at the IdP; return the callback URL the browser is sent to."""
    session.verify = verify
    page = session.get(f"{netbox_url}/login/", timeout=30)
    form = find_sso_form(page.text, "oidc")
    begin = session.post(
        urljoin(page.url, form.action),
        data=form.fields,
        timeout=30,
        allow_redirects=False,
        headers={
            "Accept": "application/json",
            "Referer": page.url,
            "X-CSRFToken": form.fields.get("csrfmiddlewaretoken", ""),
        },
    )
    authorize_url = urljoin(page.url, begin.json()["url"])
    answer = session.post(authorize_url, data={"username": username}, timeout=30, allow_redirects=False, verify=verify)
    assert answer.status_code == 302, answer.text[:300]
    return urljoin(authorize_url, answer.headers["Location"])


def complete(session: requests.Session, netbox_url: str, callback_url: str) -> LoginResult:
    """Follow the IdP's redirect back to NetBox; what the browser would see."""
    callback = session.get(callback_url, timeout=30)
    return _finish(session, netbox_url, callback, [r.url for r in callback.history], 30)
