# shellcheck shell=bash
# Shared by the devbox launch scripts. Everything a service writes lives under /sandbox (the
# one writable tmpfs): state, logs, pid files and sockets in /sandbox/devbox/<service>/.
set -euo pipefail
export HOME=/home/sandbox LANG="${LANG:-C.UTF-8}" SHELL=/bin/bash PATH=/usr/local/bin:/usr/bin:/bin
DEVBOX=/opt/faas/devbox
STATE=/sandbox/devbox
WAIT_SECS="${FAAS_DEVBOX_WAIT_SECS:-90}"

# /tmp, /var/tmp, HOME and /workspace are symlinks into /sandbox: make their targets.
prepare() {
  mkdir -p /sandbox/tmp /sandbox/home /sandbox/work "$STATE"
  chmod 1777 /sandbox/tmp 2>/dev/null || true
}

fail() { echo "FAILED: $1" >&2; if [ -n "${2:-}" ] && [ -f "$2" ]; then tail -n 40 "$2" >&2; fi; exit 1; }
usage() { echo "usage: $1" >&2; exit 2; }

check_port() { [[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ] && [ "$1" -le 65535 ] || fail "not a port: $1"; }

# A path prefix such as /i/abc/jupyter/ (leading and trailing slash added when missing).
norm_base() {
  local b="${1:-/}"
  [[ "$b" =~ ^[A-Za-z0-9._~/-]*$ ]] || fail "base path may only hold A-Z a-z 0-9 . _ ~ - /: $b"
  b="/${b#/}"; b="${b%/}/"; b="${b//\/\//\/}"
  printf '%s' "$b"
}

pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Stops what a pid file names (and its process group: the launch scripts start services in
# their own session).
stop_pidfile() {
  local pid
  [ -s "$1" ] || return 0
  pid="$(cat "$1")"
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  rm -f "$1"
}

# Runs "$@" detached from the caller (own session, no terminal, output to a log); pid to $1.
start_detached() {
  local pidfile="$1" log="$2"; shift 2
  setsid "$@" >"$log" 2>&1 </dev/null &
  echo $! >"$pidfile"
}

# Retries "$@" every 0.1 s for up to WAIT_SECS; false when it never succeeded.
wait_for() {
  local end=$((SECONDS + WAIT_SECS))
  until "$@" 2>/dev/null; do
    [ "$SECONDS" -lt "$end" ] || return 1
    sleep 0.1
  done
}

# true when a TCP port on 127.0.0.1 sends a first line starting with $2 (e.g. SSH-2.0, RFB).
banner_is() (
  exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
  IFS= read -r -t 2 line <&3 || exit 1
  [[ "$line" == "$2"* ]]
)

# true when GET $1 answers with status $2 (python3: no curl needed).
http_status_is() {
  python3 - "$1" "$2" <<'PY'
import sys, urllib.request, urllib.error
try:
    code = urllib.request.urlopen(urllib.request.Request(sys.argv[1]), timeout=3).status
except urllib.error.HTTPError as e:
    code = e.code
except Exception:
    sys.exit(1)
sys.exit(0 if str(code) == sys.argv[2] else 1)
PY
}
