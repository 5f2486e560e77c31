#!/usr/bin/env bash
# Install, upgrade or remove the Plant-Vita hub on Raspberry Pi OS (Bookworm or later, arm64).
# Safe to run again: every step checks what is already there and changes only what differs.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: install.sh [options]

  (no mode)          install, or bring an existing install up to date without upgrading the package
  --upgrade          back up the database, upgrade the package in the venv, restart the hub
  --uninstall        stop and remove the service, units and venv; keep config and data
  --purge            with --uninstall: also remove /etc/plantvita, /var/lib/plantvita and the user

  --source SPEC      what pip installs: a wheel/sdist path, a source directory or a PyPI name
                     (default: plant-vita); the [hub] extra is added
  --python PATH      interpreter that creates the venv (default: python3)
  --root DIR         install below DIR instead of / (also: DESTDIR=DIR); for tests and images
  --no-system        skip apt, user creation, chown and systemctl (what a test root cannot do)
  --skip-venv        do not create or touch the virtual environment
  -h, --help         this text
USAGE
}

die() {
    printf 'install.sh: error: %s\n' "$*" >&2
    exit 1
}
log() { printf 'install.sh: %s\n' "$*"; }

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=${DESTDIR:-}
SOURCE=plant-vita
PYTHON=python3
MODE=install
PURGE=0
SYSTEM=1
VENV_STEP=1

while (($#)); do
    case $1 in
    --upgrade) MODE=upgrade ;;
    --uninstall) MODE=uninstall ;;
    --purge) PURGE=1 ;;
    --source)
        SOURCE=${2:?--source needs a value}
        shift
        ;;
    --python)
        PYTHON=${2:?--python needs a value}
        shift
        ;;
    --root)
        ROOT=${2:?--root needs a value}
        shift
        ;;
    --no-system) SYSTEM=0 ;;
    --skip-venv) VENV_STEP=0 ;;
    -h | --help)
        usage
        exit 0
        ;;
    *)
        usage >&2
        die "unknown option: $1"
        ;;
    esac
    shift
done

((PURGE == 0)) || [[ $MODE == uninstall ]] || die "--purge only goes with --uninstall"
if [[ -n $ROOT ]]; then
    [[ $ROOT == /* ]] || die "--root must be an absolute path"
    ROOT=${ROOT%/}
fi

SERVICE_USER=plantvita
PREFIX=/opt/plantvita
VENV=$PREFIX/venv
CONF_DIR=/etc/plantvita
ENV_FILE=$CONF_DIR/hub.env
DATA_DIR=/var/lib/plantvita
UNIT_DIR=/etc/systemd/system
WRAPPER=/usr/local/bin/plantvita-hub
UNITS=(plantvita-hub.service plantvita-backup.service plantvita-backup.timer)
PACKAGES=(bluez python3 python3-venv python3-pip sqlite3 ca-certificates)

# A path inside the target root.
r() { printf '%s%s' "$ROOT" "$1"; }

# Create a directory with a mode (and an owner when managing the system); leaves its contents alone.
ensure_dir() {
    local path=$1 mode=$2 owner=$3
    install -d -m "$mode" "$(r "$path")"
    if ((SYSTEM)); then chown "$owner" "$(r "$path")"; fi
}

# Copy a file into place only when its content differs, so a re-run keeps timestamps and inodes.
install_file() {
    local src=$1 dest=$2 mode=$3 owner=$4 target
    target=$(r "$dest")
    if ! cmp -s "$src" "$target"; then
        install -m "$mode" "$src" "$target.new"
        mv -f "$target.new" "$target"
        log "installed $dest"
    fi
    chmod "$mode" "$target"
    if ((SYSTEM)); then chown "$owner" "$target"; fi
}

# 32 bytes from the kernel CSPRNG, URL-safe base64 without padding.
generate_secret() {
    head -c 32 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '='
}

check_platform() {
    local version_id=0
    if [[ -r /etc/os-release ]]; then
        # shellcheck source=/dev/null
        version_id=$(. /etc/os-release && printf '%s' "${VERSION_ID:-0}")
    fi
    # Debian-style major versions ("12"); derivatives may add a minor part ("24.04").
    version_id=${version_id%%.*}
    if [[ ! $version_id =~ ^[0-9]+$ ]] || ((version_id < 12)); then
        die "Raspberry Pi OS / Debian 12 (Bookworm) or later is required (found VERSION_ID=$version_id)"
    fi
    if [[ $(uname -m) != aarch64 ]]; then
        log "warning: $(uname -m) is not arm64; the hub is tested on 64-bit Raspberry Pi OS"
    fi
}

install_packages() {
    local missing=() pkg
    for pkg in "${PACKAGES[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$pkg")
        fi
    done
    if ((${#missing[@]})); then
        log "installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
}

ensure_user() {
    if ! getent group "$SERVICE_USER" >/dev/null; then
        groupadd --system "$SERVICE_USER"
    fi
    if ! getent passwd "$SERVICE_USER" >/dev/null; then
        useradd --system --gid "$SERVICE_USER" --home-dir "$DATA_DIR" --no-create-home \
            --shell /usr/sbin/nologin --comment "Plant-Vita hub" "$SERVICE_USER"
        log "created system user $SERVICE_USER"
    fi
    if ! id -nG "$SERVICE_USER" | tr ' ' '\n' | grep -qx bluetooth; then
        usermod -a -G bluetooth "$SERVICE_USER"
    fi
}

# The pip requirement for the hub: SOURCE with the [hub] extra.
pip_requirement() {
    if [[ -e $SOURCE ]]; then
        printf '%s[hub]' "$(cd "$(dirname "$SOURCE")" && pwd)/$(basename "$SOURCE")"
    elif [[ $SOURCE == *\[* ]]; then
        printf '%s' "$SOURCE"
    else
        printf '%s[hub]' "$SOURCE"
    fi
}

install_venv() {
    local venv requirement
    venv=$(r "$VENV")
    requirement=$(pip_requirement)
    if [[ ! -x $venv/bin/python ]]; then
        log "creating virtual environment $VENV"
        "$PYTHON" -m venv "$venv"
    fi
    if [[ $MODE == upgrade ]]; then
        log "upgrading $requirement"
        "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-input --upgrade "$requirement"
    elif [[ ! -x $venv/bin/plantvita ]]; then
        log "installing $requirement"
        "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-input "$requirement"
    fi
}

write_config() {
    local target example line key
    target=$(r "$ENV_FILE")
    example=$HERE/hub.env.example
    install_file "$example" "$CONF_DIR/hub.env.example" 0644 root:root
    if [[ -e $target ]]; then
        # Never rewrite an operator's config; point out settings that newer versions added.
        while IFS= read -r line; do
            key=${line%%=*}
            if ! grep -Eq "^#?[[:space:]]*${key}=" "$target"; then
                log "note: $ENV_FILE lacks $key (see $CONF_DIR/hub.env.example)"
            fi
        done < <(grep -E '^[A-Z0-9_]+=' "$example")
        return
    fi
    (
        umask 077
        while IFS= read -r line || [[ -n $line ]]; do
            while [[ $line == *@GENERATED_SECRET@* ]]; do
                line=${line/@GENERATED_SECRET@/$(generate_secret)}
            done
            printf '%s\n' "$line"
        done <"$example" >"$target.new"
    )
    chmod 0640 "$target.new"
    if ((SYSTEM)); then chown "root:$SERVICE_USER" "$target.new"; fi
    mv -f "$target.new" "$target"
    log "wrote $ENV_FILE with freshly generated secrets"
}

install_units() {
    local unit
    for unit in "${UNITS[@]}"; do
        install_file "$HERE/$unit" "$UNIT_DIR/$unit" 0644 root:root
    done
    install_file "$HERE/plantvita-hub" "$WRAPPER" 0755 root:root
}

# systemd's own test for "booted with systemd" (below --root, like every path here): without it
# (an image being built, a chroot) nothing can be started or stopped, but units can be enabled.
systemd_running() { [[ -d $(r /run/systemd/system) ]]; }

do_install() {
    if ((SYSTEM)); then
        ((EUID == 0)) || die "run as root (sudo), or use --no-system with --root"
        check_platform
        install_packages
        ensure_user
    fi
    ensure_dir "$PREFIX" 0755 root:root
    ensure_dir "$CONF_DIR" 0750 "root:$SERVICE_USER"
    ensure_dir "$DATA_DIR" 0750 "$SERVICE_USER:$SERVICE_USER"
    ensure_dir "$UNIT_DIR" 0755 root:root
    ensure_dir "$(dirname "$WRAPPER")" 0755 root:root
    if ((SYSTEM)) && [[ $MODE == upgrade ]] && systemd_running; then
        if [[ -e $(r "$DATA_DIR")/hub.sqlite3 ]]; then
            log "backing up the database before the upgrade"
            systemctl start plantvita-backup.service
        fi
        # A running hub would lazily import modules of the new version into the old process;
        # nodes keep their readings meanwhile and the hub backfills them after the restart.
        systemctl stop plantvita-hub.service
    fi
    if ((VENV_STEP)); then install_venv; fi
    write_config
    install_units
    if ((SYSTEM)) && systemd_running; then
        systemctl daemon-reload
        systemctl enable --now plantvita-hub.service plantvita-backup.timer
        log "done: systemctl status plantvita-hub; journalctl -u plantvita-hub -f"
    elif ((SYSTEM)); then
        systemctl enable plantvita-hub.service plantvita-backup.timer
        log "systemd is not running here: the units are enabled and start at the next boot"
    fi
}

do_uninstall() {
    local unit
    if ((SYSTEM)); then
        ((EUID == 0)) || die "run as root (sudo)"
        if systemd_running; then
            systemctl disable --now plantvita-hub.service plantvita-backup.timer 2>/dev/null || true
            systemctl stop plantvita-backup.service 2>/dev/null || true
        else
            systemctl disable plantvita-hub.service plantvita-backup.timer 2>/dev/null || true
        fi
    fi
    for unit in "${UNITS[@]}"; do
        rm -f -- "$(r "$UNIT_DIR/$unit")"
    done
    rm -f -- "$(r "$WRAPPER")"
    if ((SYSTEM)) && systemd_running; then systemctl daemon-reload; fi
    rm -rf -- "$(r "$PREFIX")"
    log "removed the service, its units and $PREFIX"
    if ((PURGE)); then
        rm -rf -- "$(r "$CONF_DIR")" "$(r "$DATA_DIR")"
        if ((SYSTEM)) && getent passwd "$SERVICE_USER" >/dev/null; then
            userdel "$SERVICE_USER"
        fi
        if ((SYSTEM)) && getent group "$SERVICE_USER" >/dev/null; then
            groupdel "$SERVICE_USER"
        fi
        log "purged $CONF_DIR, $DATA_DIR and the $SERVICE_USER user"
    else
        log "kept $CONF_DIR and $DATA_DIR (use --uninstall --purge to remove them)"
    fi
}

case $MODE in
install | upgrade) do_install ;;
uninstall) do_uninstall ;;
esac
