# Shared by scripts/demo and scripts/test: a Python >= 3.12 venv in .venv with NetBox 4.7.3 and netbox-sso.
# Sourced, not run. Re-installs only when pyproject.toml or the NetBox version changes.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.venv"
NETBOX_VERSION="${NETBOX_VERSION:-4.7.3}"

find_python() {
  for candidate in python3.12 python3.13; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  if command -v pyenv >/dev/null 2>&1; then
    for version in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.1[2-9]' | sort -rV); do
      echo "env PYENV_VERSION=$version python"; return 0
    done
  fi
  echo "error: Python >= 3.12 is required (python3.12/python3.13 on PATH, or pyenv)" >&2
  return 1
}

ensure_venv() {
  local extras="$1" stamp wanted
  if [ ! -x "$VENV/bin/python" ]; then
    local python; python="$(find_python)"
    echo "==> creating $VENV with $($python --version 2>&1)"
    $python -m venv "$VENV"
  fi
  wanted="netbox==$NETBOX_VERSION $extras $(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)"
  stamp="$VENV/.netbox-sso-installed"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
    echo "==> installing NetBox $NETBOX_VERSION and netbox-sso[$extras] into $VENV (about 2 minutes the first time)"
    # This machine's pip configuration names local index folders that may be absent: drop those warnings.
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "netbox==$NETBOX_VERSION" -e "$ROOT[$extras]" \
      2> >(grep -v "^WARNING: Location 'file://" >&2)
    echo "$wanted" > "$stamp"
  fi
}

# PostgreSQL and Redis on their standard loopback ports: start the machine's own when they are installed
# but not running. Returns non-zero when either is still unreachable (the demo then embeds its own).
ensure_services() {
  if ! (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
    if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
      echo "==> starting PostgreSQL"
      for version in $(ls /etc/postgresql); do pg_ctlcluster --skip-systemctl-redirect "$version" main start || true; done
    fi
  fi
  if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
    if command -v redis-server >/dev/null 2>&1; then
      echo "==> starting Redis"
      mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
      redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/netbox-sso.log || true
    fi
  fi
  for _ in $(seq 1 50); do
    if (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null && (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
      return 0
    fi
    sleep 0.2
  done
  return 1
}

ensure_chromium() {
  if [ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1; then return 0; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing Debian's chromium (browser tests; never a Playwright browser download)"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "error: Chromium is required for the browser tests: sudo apt-get install chromium" >&2
    return 1
  fi
}
