#!/usr/bin/env bash
# `make pi-check`: the hub on Raspberry Pi OS's base (arm64 Debian bookworm), for real.
#
# Builds (once, cached) an arm64 bookworm root with debootstrap, runs it through qemu-user-static
# and binfmt_misc, installs the hub into it with install.sh (as on a Pi, offline from arm64 wheels
# fetched on the host), then runs the hub's store, sync, images and BLE tests (marker `pi`) under
# aarch64 Python and `plantvita hub serve --emulate 8` as the service user until /readyz answers,
# then links that hub to a real cloud on the host and waits for every node's readings there.
#
# What qemu-user does not show: systemd is not PID 1 (units are installed and enabled, never
# started), the kernel is the host's (BlueZ, D-Bus, cgroup and sysctl behaviour), timing (an
# emulated CPU is several times slower than a Pi and not proportionally so), and the Pi's memory.
# bench.pi_budget measures the budget on the host instead.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PYTHON=${PYTHON:-$REPO/.venv/bin/python}
CACHE=${PLANTVITA_PI_CACHE:-/var/cache/plantvita/pi-check}
MIRROR=${PLANTVITA_PI_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
# debootstrap's own set, then what install.sh would apt-get on a Pi plus systemd for systemctl,
# installed by apt inside the root (bluez's postinst fails in debootstrap's second stage: no
# policy-rc.d there). A change to either list makes a new root.
BASE_PACKAGES=python3,python3-venv,python3-pip,ca-certificates
ROOT_PACKAGES=(bluez sqlite3 systemd util-linux)
ROOT_KEY=$(printf '%s|%s|%s|2' "$SUITE" "$BASE_PACKAGES" "${ROOT_PACKAGES[*]}" | sha256sum | cut -c1-12)
BASE=$CACHE/root-$ROOT_KEY
WHEELS=$CACHE/wheels
# Test-only packages installed next to the hub in the root (the hub's own come from [hub]).
TEST_PACKAGES=(pytest pytest-asyncio pytest-timeout asgi-lifespan hypothesis respx)
READY_TIMEOUT_S=${PLANTVITA_PI_READY_TIMEOUT_S:-600}

log() { printf 'pi-check: %s\n' "$*"; }
die() {
    printf 'pi-check: error: %s\n' "$*" >&2
    exit 1
}

((EUID == 0)) || die "needs root (debootstrap, chroot, mounts)"
for tool in debootstrap chroot mount; do
    command -v "$tool" >/dev/null || die "$tool missing (apt-get install debootstrap qemu-user-static binfmt-support)"
done
[[ -x /usr/bin/qemu-aarch64-static ]] || die "qemu-user-static missing (apt-get install qemu-user-static)"
[[ -x $PYTHON ]] || die "no project venv at $PYTHON (run make venv)"

# --- binfmt_misc: mount it if needed and register aarch64 with the F (fix binary) flag, so the
# interpreter is found from inside the chroot.
setup_binfmt() {
    local bm=/proc/sys/fs/binfmt_misc conf=/usr/lib/binfmt.d/qemu-aarch64.conf
    if [[ ! -e $bm/register ]]; then
        mount -t binfmt_misc binfmt_misc "$bm" || die "cannot mount binfmt_misc"
    fi
    if [[ ! -e $bm/qemu-aarch64 ]]; then
        if command -v update-binfmts >/dev/null && update-binfmts --enable qemu-aarch64 2>/dev/null; then
            :
        elif [[ -r $conf ]]; then
            grep -v '^#' "$conf" >"$bm/register"
        else
            die "no binfmt definition for qemu-aarch64"
        fi
    fi
    grep -q enabled "$bm/qemu-aarch64" || die "qemu-aarch64 binfmt entry is disabled"
}

build_root() {
    if [[ -e $BASE/.complete ]]; then
        log "using cached root $BASE"
        return
    fi
    log "building arm64 $SUITE root (debootstrap, once; cached in $CACHE)"
    rm -rf "$BASE.tmp"
    mkdir -p "$CACHE"
    debootstrap --arch=arm64 --variant=minbase --include="$BASE_PACKAGES" \
        "$SUITE" "$BASE.tmp" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
        {
            tail -n 30 "$CACHE/debootstrap.log" >&2
            die "debootstrap failed (log: $CACHE/debootstrap.log)"
        }
    # No service may start inside the root (no init there): policy-rc.d says so to every postinst.
    printf '#!/bin/sh\nexit 101\n' >"$BASE.tmp/usr/sbin/policy-rc.d"
    chmod 0755 "$BASE.tmp/usr/sbin/policy-rc.d"
    cp /etc/resolv.conf "$BASE.tmp/etc/resolv.conf"
    mount -t proc proc "$BASE.tmp/proc"
    if ! chroot "$BASE.tmp" /usr/bin/env -i PATH=/usr/bin:/bin:/usr/sbin:/sbin DEBIAN_FRONTEND=noninteractive \
        sh -c "apt-get update -qq && apt-get install -y -qq --no-install-recommends ${ROOT_PACKAGES[*]}" \
        >>"$CACHE/debootstrap.log" 2>&1; then
        umount "$BASE.tmp/proc"
        tail -n 30 "$CACHE/debootstrap.log" >&2
        die "apt-get in the root failed (log: $CACHE/debootstrap.log)"
    fi
    umount "$BASE.tmp/proc"
    chroot "$BASE.tmp" apt-get clean
    rm -rf "$BASE"
    mv "$BASE.tmp" "$BASE"
    touch "$BASE/.complete"
}

# The project's wheel (built here) and every dependency as an arm64 wheel for CPython 3.11, fetched
# on the host: the root has no package index of its own, exactly like an offline Pi.
fetch_wheels() {
    local dist=$WORK/dist
    mkdir -p "$dist" "$WHEELS"
    log "building the plant-vita wheel"
    "$PYTHON" -m pip wheel -q --no-deps -w "$dist" "$REPO" >/dev/null
    WHEEL=$(ls "$dist"/plant_vita-*.whl)
    rm -f "$WHEELS"/plant_vita-*.whl # same version, new code: never the cached one
    log "fetching arm64 wheels for $(basename "$WHEEL")[hub] and the test tools"
    "$PYTHON" "$HERE/arm64_wheels.py" "$WHEELS" --find-links "$dist" "plant-vita[hub]" "${TEST_PACKAGES[@]}"
}

free_port() { "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

MOUNTS=()
cleanup() {
    if [[ -n ${HUB_PID:-} ]]; then
        kill "$HUB_PID" 2>/dev/null || true
        wait "$HUB_PID" 2>/dev/null || true
    fi
    # Anything still running from the root (the hub's children) goes before its mounts, and
    # before the cloud: a request the hub still has open there would hold the cloud's shutdown.
    if [[ -n ${ROOT:-} && -d ${ROOT:-} ]]; then
        for proc in /proc/[0-9]*; do
            if [[ $(readlink "$proc/root" 2>/dev/null) == "$ROOT" ]]; then
                kill -9 "${proc#/proc/}" 2>/dev/null || true
            fi
        done
    fi
    if [[ -n ${CLOUD_PID:-} ]]; then
        exec {CLOUD_IN}>&- # end of its stdin: it stops the API and PostgreSQL
        timeout 90 tail --pid="$CLOUD_PID" -f /dev/null || kill "$CLOUD_PID" 2>/dev/null || true
    fi
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
        umount -l "${MOUNTS[i]}" 2>/dev/null || true
    done
    if [[ -n ${WORK:-} ]]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT

# A throwaway copy of the cached root: an overlay where the kernel allows it, else a full copy.
prepare_work_root() {
    WORK=$(mktemp -d /var/tmp/pi-check.XXXXXX)
    ROOT=$WORK/root
    mkdir -p "$ROOT" "$WORK/upper" "$WORK/ovl"
    if mount -t overlay overlay -o "lowerdir=$BASE,upperdir=$WORK/upper,workdir=$WORK/ovl" "$ROOT" 2>/dev/null; then
        MOUNTS+=("$ROOT")
    else
        log "no overlayfs here: copying the root"
        cp -a "$BASE/." "$ROOT/"
    fi
    mount -t proc proc "$ROOT/proc" && MOUNTS+=("$ROOT/proc")
    mount --rbind /sys "$ROOT/sys" && MOUNTS+=("$ROOT/sys")
    mount --rbind /dev "$ROOT/dev" && MOUNTS+=("$ROOT/dev")
    mount -t tmpfs tmpfs "$ROOT/tmp" && MOUNTS+=("$ROOT/tmp")
    cp /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
}

in_root() { chroot "$ROOT" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME=/root LANG=C.UTF-8 "$@"; }

main() {
    local started=$SECONDS
    setup_binfmt
    build_root
    prepare_work_root
    fetch_wheels
    log "root: $(in_root uname -m), $(in_root python3 --version), $(grep PRETTY_NAME "$ROOT/etc/os-release" | cut -d= -f2)"

    mkdir -p "$ROOT/opt/pi-check/src"
    cp -a "$WHEELS" "$ROOT/opt/pi-check/wheels"
    cp -a "$HERE" "$ROOT/opt/pi-check/deploy"
    # The tests and the pytest configuration, not the source: `hub` must come from the install.
    cp -a "$REPO/tests" "$REPO/pyproject.toml" "$ROOT/opt/pi-check/src/"
    find "$ROOT/opt/pi-check/src" -name __pycache__ -prune -exec rm -rf {} +

    log "install.sh, as on a Pi (offline, from the wheels)"
    in_root PIP_NO_INDEX=1 PIP_FIND_LINKS=/opt/pi-check/wheels \
        bash /opt/pi-check/deploy/install.sh --source "/opt/pi-check/wheels/$(basename "$WHEEL")"
    [[ -L $ROOT/etc/systemd/system/multi-user.target.wants/plantvita-hub.service ]] ||
        die "install.sh did not enable plantvita-hub.service for the next boot"
    in_root /opt/plantvita/venv/bin/python -c 'import psycopg' 2>/dev/null &&
        die "the cloud's dependencies are installed by a [hub] install"
    in_root /opt/plantvita/venv/bin/python -m pip install -q --no-index --find-links /opt/pi-check/wheels \
        "${TEST_PACKAGES[@]}"

    # Only the modules that carry the marker are collected: the others may import the cloud's
    # dependencies, which a [hub] install must not have.
    local modules
    modules=$(cd "$REPO" && grep -rlE 'pytest\.mark\.pi\b' tests --include='test_*.py' | sort | tr '\n' ' ')
    [[ -n $modules ]] || die "no test module is marked pi"
    log "hub tests (marker pi) under aarch64 Python: $(wc -w <<<"$modules") modules"
    in_root sh -c "cd /opt/pi-check/src && /opt/plantvita/venv/bin/python -m pytest -m pi -q \
        -p no:cacheprovider -o addopts='-ra --strict-markers' --timeout 900 $modules"

    local port cloud_port
    port=$(free_port)
    cloud_port=$(free_port)
    # A real cloud on the host (embedded PostgreSQL); the chroot shares the host's loopback.
    log "the cloud on 127.0.0.1:$cloud_port, for the hub to sync to"
    mkfifo "$WORK/cloud.in"
    "$PYTHON" "$HERE/pi_sync_check.py" cloud "$WORK/cloud" "$cloud_port" <"$WORK/cloud.in" \
        >"$WORK/cloud.log" 2>&1 &
    CLOUD_PID=$!
    exec {CLOUD_IN}>"$WORK/cloud.in" # the cloud stops when this closes
    log "plantvita hub serve --emulate 8 as the service user, on 127.0.0.1:$port"
    in_root sh -c "set -a; . /etc/plantvita/hub.env; set +a; \
        export PLANTVITA_HUB_HOST=127.0.0.1 PLANTVITA_HUB_PORT=$port PLANTVITA_HUB_DATA_DIR=/var/lib/plantvita \
            PLANTVITA_HUB_CLOUD_URL=http://127.0.0.1:$cloud_port; \
        exec setpriv --reuid=plantvita --regid=plantvita --init-groups \
            /opt/plantvita/venv/bin/plantvita hub serve --emulate 8" >"$WORK/serve.log" 2>&1 &
    HUB_PID=$!
    local deadline=$((SECONDS + READY_TIMEOUT_S)) body=""
    while ((SECONDS < deadline)); do
        if ! kill -0 "$HUB_PID" 2>/dev/null; then
            tail -n 40 "$WORK/serve.log" >&2
            die "the hub exited before /readyz answered"
        fi
        if body=$("$PYTHON" - "$port" <<'PY'
import sys, urllib.request
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/readyz", timeout=5) as r:
        print(r.read().decode())
except Exception:
    sys.exit(1)
PY
        ); then
            log "/readyz answered 200 after $((SECONDS - started)) s in all: $body"
            if ! "$PYTHON" "$HERE/pi_sync_check.py" sync "http://127.0.0.1:$port" "http://127.0.0.1:$cloud_port"; then
                tail -n 40 "$WORK/serve.log" >&2
                tail -n 20 "$WORK/cloud.log" >&2
                die "the arm64 hub's sync to the cloud failed"
            fi
            log "passed in $((SECONDS - started)) s"
            return 0
        fi
        sleep 3
    done
    tail -n 40 "$WORK/serve.log" >&2
    die "/readyz did not answer 200 within ${READY_TIMEOUT_S} s"
}

main "$@"
