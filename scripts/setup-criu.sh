#!/usr/bin/env bash
# CRIU 4.x for Docker's checkpoint API (snapshots with memory state), run by setup-host.sh.
#
# Debian 12's own criu (3.17) fails `criu check` on current kernels (vDSO layout), so this
# takes criu and the libraries it links (glibc included) from Debian 13 "trixie" without
# touching the system's apt sources or dpkg database:
#   1. a private apt configuration under $PREFIX/apt (its own sources.list, lists, cache and an
#      empty dpkg status, so apt downloads the whole dependency closure of criu);
#   2. `apt-get install --download-only --no-install-recommends criu`, every .deb `dpkg -x`ed
#      into $PREFIX/root;
#   3. the criu binary patched with patchelf to use trixie's ld.so and, through DT_RPATH (which,
#      unlike RUNPATH, also applies to the libraries' own dependencies), trixie's libraries;
#   4. only on hosts whose capability bounding set lacks CAP_SYS_RESOURCE (some VM sandboxes
#      drop it for every process, dockerd included): a small library linked into criu that
#      answers criu's prlimit64(pid, NULL, &old) on a process of another uid from
#      /proc/<pid>/limits when the kernel says EPERM; without it every dump of a sandbox (uid
#      65534) fails with "Can't get rlimit 0: Operation not permitted";
#   5. /usr/local/sbin/criu -> that binary. runc (started by containerd, started by dockerd)
#      runs `criu` from PATH, so this checks that dockerd's PATH finds it before /usr/sbin/criu,
#      and restarts a dockerd it can restart (no containers running) when it does not;
#   6. docker-init (bind-mounted into every Init: true container) made a regular file, a hard
#      link to what Debian's symlink /usr/bin/docker-init -> tini-static points at: criu 4's mount
#      engine cannot restore a bind mount whose source is a symlink ("mnt-v2: Can't remount ...
#      with MS_PRIVATE: No such file or directory"); its fallback, mntns-compat-mode, cannot be
#      given through /etc/criu/runc.conf because criu then refuses every dump ("only valid on
#      restore"). Done again whenever a docker.io upgrade puts the symlink back.
# Idempotent: when all of that is in place and `criu check` passes, it does nothing (~0.1 s).
# Environment: FAAS_CRIU_PREFIX (default /opt/faas-criu), FAAS_CRIU_SUITES (default
# "trixie trixie-security"), FAAS_CRIU_MIRROR, FAAS_CRIU_SECURITY_MIRROR,
# FAAS_CRIU_PRLIMIT_SHIM (auto|1|0, default auto: only when CAP_SYS_RESOURCE is missing).
set -euo pipefail

PREFIX=${FAAS_CRIU_PREFIX:-/opt/faas-criu}
LINK=/usr/local/sbin/criu
BIN=$PREFIX/root/usr/sbin/criu
LIBDIR=$PREFIX/root/usr/lib/x86_64-linux-gnu
MIRROR=${FAAS_CRIU_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${FAAS_CRIU_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
SUITES=${FAAS_CRIU_SUITES:-trixie trixie-security}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
DOCKERD_LOG=${FAAS_DOCKERD_LOG:-/var/log/faas-dockerd.log}
SHIM=libfaas-prlimit.so

log() { printf '[criu] %s\n' "$*" >&2; }
die() { printf '[criu] ERROR: %s\n' "$*" >&2; exit 1; }

# Whether criu needs the prlimit shim: CAP_SYS_RESOURCE (bit 24) missing from the bounding set of
# dockerd (whose descendant runs criu), or of this shell when no dockerd runs.
need_shim() {
  case ${FAAS_CRIU_PRLIMIT_SHIM:-auto} in
    1) return 0 ;;
    0) return 1 ;;
  esac
  local bnd pid
  pid=$(pgrep -x dockerd | head -n 1) || pid=self
  bnd=$(sed -n 's/^CapBnd:[[:space:]]*//p' "/proc/$pid/status" 2>/dev/null)
  [ -n "$bnd" ] || bnd=$(sed -n 's/^CapBnd:[[:space:]]*//p' /proc/self/status)
  [ $(((0x$bnd >> 24) & 1)) = 0 ]
}

shim_ok() {
  if need_shim; then
    [ -f "$LIBDIR/$SHIM" ] && patchelf --print-needed "$BIN" 2>/dev/null | grep -qx "$SHIM"
  else
    ! patchelf --print-needed "$BIN" 2>/dev/null | grep -qx "$SHIM"
  fi
}

# The docker-init that dockerd bind-mounts (found in dockerd's PATH, as dockerd does).
docker_init_path() {
  local pid path=""
  if pid=$(dockerd_pid); then path=$(tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | sed -n 's/^PATH=//p'); fi
  PATH=${path:-/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin} command -v docker-init 2>/dev/null
}

docker_init_ok() {
  local p
  p=$(docker_init_path) || return 0 # no docker-init: nothing to restore
  [ ! -L "$p" ]
}

criu_ok() {
  [ -x "$BIN" ] && [ "$(readlink -f "$LINK" 2>/dev/null)" = "$(readlink -f "$BIN")" ] \
    && command -v patchelf >/dev/null 2>&1 && shim_ok \
    && "$LINK" --version 2>/dev/null | grep -q '^Version: [4-9]' \
    && "$LINK" check >/dev/null 2>&1
}

# The criu that a process with this PATH would run (what runc under dockerd will exec).
criu_in_path() {
  local d IFS=:
  for d in $1; do
    if [ -n "$d" ] && [ -x "$d/criu" ] && [ ! -d "$d/criu" ]; then printf '%s\n' "$d/criu"; return 0; fi
  done
  return 1
}

dockerd_pid() { pgrep -x dockerd | head -n 1; }

dockerd_sees_criu() {
  local pid path found
  pid=$(dockerd_pid) || return 0 # no dockerd: whoever starts it later gets the usual PATH
  path=$(tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | sed -n 's/^PATH=//p')
  # Go's exec.LookPath falls back to this when PATH is unset.
  [ -n "$path" ] || path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  found=$(criu_in_path "$path") || return 1
  [ "$(readlink -f "$found")" = "$(readlink -f "$BIN")" ]
}

engine_answers() { timeout 5 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

restart_dockerd() {
  local running
  running=$(docker ps -q 2>/dev/null | wc -l)
  if [ "$running" != 0 ]; then
    die "dockerd's PATH does not find $LINK (it would run another criu) and $running container(s) are running, so it is not restarted here; restart dockerd with /usr/local/sbin in its PATH"
  fi
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker 2>/dev/null; then
    log "restarting docker.service so that runc finds $LINK"
    systemctl restart docker
  else
    local pid
    pid=$(dockerd_pid)
    log "restarting dockerd (pid $pid) with /usr/local/sbin in its PATH (log: $DOCKERD_LOG)"
    kill -TERM "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && die "dockerd (pid $pid) did not stop within 30 s"
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin nohup dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
    disown || true
  fi
  for _ in $(seq 1 120); do
    if engine_answers; then log "docker engine is up again"; return 0; fi
    sleep 0.5
  done
  die "dockerd did not answer within 60 s after the restart (see $DOCKERD_LOG)"
}

ensure_dockerd_sees_criu() {
  dockerd_sees_criu && return 0
  restart_dockerd
  dockerd_sees_criu || die "dockerd still does not find $LINK in its PATH"
}

install_criu() {
  if ! command -v patchelf >/dev/null 2>&1; then
    log "installing patchelf (Debian 12)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq patchelf >&2 \
      || { DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq patchelf >&2; } \
      || die "could not install patchelf"
  fi

  # 1. A private apt configuration: nothing of it reaches /etc/apt or /var/lib/dpkg.
  APTDIR=$PREFIX/apt
  rm -rf "$APTDIR"
  mkdir -p "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial" "$APTDIR/state" "$APTDIR/sources.list.d" "$APTDIR/preferences.d"
  : >"$APTDIR/status"
  : >"$APTDIR/sources.list"
  for suite in $SUITES; do
    case $suite in
      *-security) uri=$SECURITY_MIRROR ;;
      *) uri=$MIRROR ;;
    esac
    echo "deb [signed-by=$KEYRING] $uri $suite main" >>"$APTDIR/sources.list"
  done
  APT_OPTS=(
    -o "Dir::Etc::sourcelist=$APTDIR/sources.list"
    -o "Dir::Etc::sourceparts=$APTDIR/sources.list.d"
    -o "Dir::Etc::preferences=$APTDIR/preferences"
    -o "Dir::Etc::preferencesparts=$APTDIR/preferences.d"
    -o "Dir::State=$APTDIR/state"
    -o "Dir::State::Lists=$APTDIR/lists"
    -o "Dir::State::status=$APTDIR/status"
    -o "Dir::Cache=$APTDIR/cache"
    -o "APT::Architecture=amd64"
    -o "Debug::NoLocking=1"
  )
  log "fetching the package lists of: $SUITES (private apt dir $APTDIR)"
  apt-get "${APT_OPTS[@]}" update -qq >&2 || die "apt-get update of $SUITES failed (is $MIRROR reachable?)"
  log "downloading criu and its libraries"
  DEBIAN_FRONTEND=noninteractive apt-get "${APT_OPTS[@]}" install -y -qq --download-only --no-install-recommends criu >&2 \
    || die "apt-get could not download criu from $SUITES"

  # 2. Extract into a fresh tree, then swap it in.
  NEW=$PREFIX/root.new
  rm -rf "$NEW"
  mkdir -p "$NEW"
  n=0
  for deb in "$APTDIR"/cache/archives/*.deb; do
    dpkg -x "$deb" "$NEW" || die "dpkg -x $deb failed"
    dpkg-deb -f "$deb" Package Version | paste -sd' ' >>"$NEW/.packages"
    n=$((n + 1))
  done
  log "extracted $n packages into $PREFIX/root"
  [ -x "$NEW/usr/sbin/criu" ] || die "criu is not in the downloaded packages"
  [ -e "$NEW/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" ] || die "trixie's ld.so is not in the downloaded packages"

  # 3. Point the binary at the private loader and libraries (paths of the final location).
  patchelf --set-interpreter "$LIBDIR/ld-linux-x86-64.so.2" --force-rpath --set-rpath "$LIBDIR" "$NEW/usr/sbin/criu" \
    || die "patchelf failed"

  # 4. The prlimit shim, where the kernel will not let root read another uid's rlimits.
  if need_shim; then
    log "CAP_SYS_RESOURCE is not in this host's capability bounding set: linking the prlimit shim into criu"
    if ! command -v gcc >/dev/null 2>&1; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc libc6-dev >&2 || die "could not install gcc (needed for the prlimit shim)"
    fi
    cat >"$PREFIX/prlimit-shim.c" <<'C'
// Linked into criu by scripts/setup-criu.sh on hosts without CAP_SYS_RESOURCE. criu reads each
// rlimit of a task it dumps with prlimit64(pid, res, NULL, &old) (through syscall() and libc);
// the kernel refuses that for a task of another uid unless the caller has CAP_SYS_RESOURCE.
// /proc/<pid>/limits (world-readable) holds the same values, in RLIMIT_* order after a header
// line, the name in the first 26 columns. Only that case is changed; every other call goes on
// to the real syscall.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static int limit_value(const char *text, rlim64_t *out) {
  if (strcmp(text, "unlimited") == 0) {
    *out = RLIM64_INFINITY;
    return 0;
  }
  char *end;
  errno = 0;
  unsigned long long v = strtoull(text, &end, 10);
  if (errno != 0 || *end != '\0') return -1;
  *out = (rlim64_t)v;
  return 0;
}

static int limit_from_proc(pid_t pid, int resource, struct rlimit64 *out) {
  char path[64], line[256], soft[32], hard[32];
  snprintf(path, sizeof path, "/proc/%d/limits", (int)pid);
  FILE *f = fopen(path, "re");
  if (f == NULL) return -1;
  int row = -1, rc = -1;
  while (fgets(line, sizeof line, f) != NULL) {
    if (row++ != resource) continue; // row -1 is the header
    if (strlen(line) > 26 && sscanf(line + 26, "%31s %31s", soft, hard) == 2
        && limit_value(soft, &out->rlim_cur) == 0 && limit_value(hard, &out->rlim_max) == 0)
      rc = 0;
    break;
  }
  fclose(f);
  return rc;
}

typedef long (*syscall_fn)(long, ...);
static syscall_fn next_syscall;

static long forward(long nr, long a, long b, long c, long d, long e, long f) {
  if (next_syscall == NULL) next_syscall = (syscall_fn)dlsym(RTLD_NEXT, "syscall");
  return next_syscall(nr, a, b, c, d, e, f);
}

static long get_limit(pid_t pid, int resource, const void *new_limit, struct rlimit64 *old_limit) {
  long r = forward(SYS_prlimit64, pid, resource, (long)new_limit, (long)old_limit, 0, 0);
  if (r == 0) return 0;
  int err = errno;
  if (err == EPERM && new_limit == NULL && old_limit != NULL && pid > 0 && pid != getpid()
      && limit_from_proc(pid, resource, old_limit) == 0)
    return 0;
  errno = err;
  return -1;
}

long syscall(long nr, ...) {
  long a[6];
  va_list ap;
  va_start(ap, nr);
  for (int i = 0; i < 6; i++) a[i] = va_arg(ap, long);
  va_end(ap);
  if (nr == SYS_prlimit64) return get_limit((pid_t)a[0], (int)a[1], (const void *)a[2], (struct rlimit64 *)a[3]);
  return forward(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

int prlimit64(pid_t pid, __rlimit_resource_t resource, const struct rlimit64 *new_limit, struct rlimit64 *old_limit) {
  return (int)get_limit(pid, (int)resource, new_limit, old_limit);
}
C
    gcc -O2 -Wall -shared -fPIC -o "$NEW/usr/lib/x86_64-linux-gnu/$SHIM" "$PREFIX/prlimit-shim.c" || die "could not build the prlimit shim"
    patchelf --add-needed "$SHIM" "$NEW/usr/sbin/criu" || die "patchelf --add-needed $SHIM failed"
  fi
  rm -rf "$PREFIX/root.old"
  [ -d "$PREFIX/root" ] && mv "$PREFIX/root" "$PREFIX/root.old"
  mv "$NEW" "$PREFIX/root"
  rm -rf "$PREFIX/root.old" "$APTDIR/lists" "$APTDIR/cache"

  # 5. Where runc looks for it.
  mkdir -p "$(dirname "$LINK")"
  ln -sfn "$BIN" "$LINK"
  ver=$("$LINK" --version | sed -n 's/^Version: //p')
  if ! out=$("$LINK" check 2>&1); then
    printf '%s\n' "$out" | tail -n 5 >&2
    die "criu $ver is installed at $BIN but \`criu check\` fails (see above)"
  fi
  log "criu $ver installed ($LINK -> $BIN), criu check: Looks good."
}

# docker-init as a regular file (the same binary: a hard link, or a copy), swapped in atomically.
fix_docker_init() {
  local init target
  if init=$(docker_init_path) && [ -L "$init" ]; then
    target=$(readlink -f "$init")
    [ -f "$target" ] || die "$init is a dangling symlink"
    log "replacing the symlink $init -> $target by a hard link (criu cannot restore a bind-mounted symlink)"
    ln -f "$target" "$init.faas-criu" 2>/dev/null || cp -p "$target" "$init.faas-criu" || die "could not copy $target"
    mv -f "$init.faas-criu" "$init" || die "could not replace $init"
  fi
}

# Fast path: everything in place.
if criu_ok && docker_init_ok; then
  ensure_dockerd_sees_criu
  exit 0
fi

[ "$(id -u)" = 0 ] || die "installing CRIU needs root (run: sudo bash $0)"
[ "$(uname -m)" = x86_64 ] || die "only x86_64 is handled (this is $(uname -m))"
command -v apt-get >/dev/null 2>&1 && command -v dpkg >/dev/null 2>&1 || die "needs apt-get and dpkg (Debian/Ubuntu)"
[ -r "$KEYRING" ] || die "$KEYRING is missing (apt-get install debian-archive-keyring)"
mkdir -p "$(dirname "$PREFIX")"
exec 9>"$PREFIX.lock"
flock -w 600 9 || die "another setup-criu.sh holds $PREFIX.lock"

criu_ok || install_criu
docker_init_ok || fix_docker_init
ensure_dockerd_sees_criu
