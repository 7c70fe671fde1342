#!/usr/bin/env bash
# Make a Docker engine reachable on this machine and build a local base image
# for the target service, without pulling anything from an image registry.
#
#   eval "$(scripts/docker_engine.sh up)"          # engine; prints export lines
#   eval "$(scripts/docker_engine.sh base-image)"  # image;  prints export lines
#   scripts/docker_engine.sh status
#   scripts/docker_engine.sh down                  # stops only our own dockerd
#
# Only `export ...` lines go to stdout; all progress goes to stderr.
set -euo pipefail

readonly PROG="${0##*/}"

# Everything about the private daemon lives under these paths; `down` only ever
# stops the process named in PIDFILE, and only if it is a dockerd using them.
readonly PRIVATE_DIR="${SRE_DOCKER_DIR:-/run/sre-docker}"
readonly PRIVATE_SOCK="${PRIVATE_DIR}/docker.sock"
readonly PRIVATE_HOST="unix://${PRIVATE_SOCK}"
readonly PIDFILE="${PRIVATE_DIR}/dockerd.pid"
readonly LOGFILE="${PRIVATE_DIR}/dockerd.log"
readonly EXEC_ROOT="${PRIVATE_DIR}/exec"
readonly CONFIG_FILE="${PRIVATE_DIR}/daemon.json"
readonly DATA_ROOT="${SRE_DOCKER_DATA_ROOT:-/var/lib/sre-docker}"
readonly STORAGE_DRIVER="${SRE_DOCKER_STORAGE_DRIVER:-auto}"
readonly DEFAULT_HOST="unix:///var/run/docker.sock"
readonly START_TIMEOUT="${SRE_DOCKER_START_TIMEOUT:-60}"
readonly STOP_TIMEOUT="${SRE_DOCKER_STOP_TIMEOUT:-60}"

readonly BASE_IMAGE="sre-target-base:bookworm"
readonly BASE_SUITE="bookworm"
readonly BASE_PACKAGES="python3,python3-flask"

APT_UPDATED=0
TMP_POLICY_RC=""
BUILD_DIR=""

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    exit 1
}

usage() {
    cat <<EOF
Usage: $PROG COMMAND

Commands:
  up          Make a Docker engine reachable. Reuses one that already answers
              (\$DOCKER_HOST, else $DEFAULT_HOST, else $PRIVATE_HOST);
              otherwise (root on Debian) installs docker.io if dockerd is
              missing and starts a private dockerd on $PRIVATE_HOST.
              Prints export lines: eval "\$($PROG up)"
  base-image  Build (or reuse) the local image $BASE_IMAGE with
              debootstrap (Debian $BASE_SUITE minbase + $BASE_PACKAGES) and
              docker import. Prints export lines: eval "\$($PROG base-image)"
              Option: --rebuild  remove and rebuild the image.
  down        Stop the dockerd that this script started (pidfile
              $PIDFILE); never touches any other daemon.
  status      Say whether an engine answers, and which.
  -h, --help  This text.

Environment (all optional):
  SRE_DOCKER_STORAGE_DRIVER  storage driver for the private daemon (default
                             auto: overlay2, else vfs)
  SRE_DOCKER_DATA_ROOT       data root (default /var/lib/sre-docker)
  SRE_DOCKER_START_TIMEOUT   seconds to wait for the daemon (default 60)
  SRE_DOCKER_STOP_TIMEOUT    seconds to wait for it to stop (default 60)
  SRE_DEBIAN_MIRROR          Debian mirror for debootstrap (default: read
                             from this machine's apt sources)
EOF
}

# --------------------------------------------------------------------------
# helpers

have() { command -v "$1" >/dev/null 2>&1; }

is_root() { [[ "$(id -u)" -eq 0 ]]; }

is_debian() {
    [[ -r /etc/debian_version ]] || return 1
    have apt-get && have dpkg
}

# engine_answers HOST: true if a Docker engine answers on HOST.
engine_answers() {
    local host="$1"
    have docker || return 1
    if [[ "$host" == unix://* && ! -S "${host#unix://}" ]]; then
        return 1
    fi
    DOCKER_HOST="$host" timeout 10 docker version --format '{{.Server.Version}}' \
        >/dev/null 2>&1
}

server_desc() {
    local host="$1"
    DOCKER_HOST="$host" timeout 10 docker info --format \
        'server {{.ServerVersion}}, storage {{.Driver}}, containerd {{.ContainerdCommit.ID}}, runtime {{.DefaultRuntime}}, root {{.DockerRootDir}}' \
        2>/dev/null || echo "server (docker info failed)"
}

# An engine without a "bridge" network (ours runs with --bridge=none) can only
# give containers host networking.
needs_host_network() {
    local host="$1"
    ! DOCKER_HOST="$host" timeout 10 docker network inspect bridge >/dev/null 2>&1
}

# find_engine: print the first DOCKER_HOST that answers, in the order
# $DOCKER_HOST, default socket, private socket. Returns 1 if none answers.
find_engine() {
    if [[ -n "${DOCKER_HOST:-}" ]]; then
        if engine_answers "$DOCKER_HOST"; then
            printf '%s\n' "$DOCKER_HOST"
            return 0
        fi
        log "DOCKER_HOST=$DOCKER_HOST is set but no engine answers there; trying the others"
    fi
    local host
    for host in "$DEFAULT_HOST" "$PRIVATE_HOST"; do
        if engine_answers "$host"; then
            printf '%s\n' "$host"
            return 0
        fi
    done
    return 1
}

print_engine_exports() {
    local host="$1"
    printf 'export DOCKER_HOST=%q\n' "$host"
    if needs_host_network "$host"; then
        printf 'export SRE_DOCKER_NETWORK=host\n'
    fi
}

apt_update_once() {
    if [[ "$APT_UPDATED" -eq 0 ]]; then
        log "apt-get update"
        DEBIAN_FRONTEND=noninteractive apt-get update >&2 || die "apt-get update failed"
        APT_UPDATED=1
    fi
}

remove_tmp_policy_rc() {
    if [[ -n "$TMP_POLICY_RC" ]]; then
        rm -f "$TMP_POLICY_RC"
        TMP_POLICY_RC=""
    fi
}

# apt_install PKG...: install Debian packages without recommends. Package
# maintainer scripts are kept from starting services (a docker.io install
# must not start a system dockerd that this script would not own).
apt_install() {
    is_root || die "need root to install $* (run as root, or install it yourself)"
    is_debian || die "cannot install $*: this machine is not Debian (no /etc/debian_version or apt-get)"
    apt_update_once
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        TMP_POLICY_RC=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\n# temporary, from %s\nexit 101\n' "$PROG" >"$TMP_POLICY_RC"
        chmod 755 "$TMP_POLICY_RC"
    fi
    log "apt-get install -y --no-install-recommends $*"
    local rc=0
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >&2 || rc=$?
    remove_tmp_policy_rc
    [[ "$rc" -eq 0 ]] || die "apt-get install $* failed (exit $rc); is the package available from this machine's apt sources?"
}

pid_alive() { [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null; }

# our_dockerd_pid: print the pid from PIDFILE if it is a live dockerd that
# uses our pidfile; else print nothing.
our_dockerd_pid() {
    [[ -r "$PIDFILE" ]] || return 0
    local pid
    pid="$(tr -dc '0-9' <"$PIDFILE")"
    pid_alive "$pid" || return 0
    local cmdline
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
    if [[ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" == dockerd* && "$cmdline" == *"$PIDFILE"* ]]; then
        printf '%s\n' "$pid"
    fi
}

# --------------------------------------------------------------------------
# up

LAUNCHED_PID=""

# launch_dockerd DRIVER: start our private dockerd in the background; its pid
# goes to LAUNCHED_PID.
launch_dockerd() {
    local driver="$1"
    log "starting dockerd $(dockerd --version 2>/dev/null | head -n1) on $PRIVATE_HOST (storage $driver, no bridge, no iptables); log: $LOGFILE"
    printf '\n==== %s: starting dockerd (storage %s) at %s ====\n' "$PROG" "$driver" "$(date -Is)" >>"$LOGFILE"
    # dockerd starts its own (supervised) containerd under EXEC_ROOT when no
    # system containerd socket (/run/containerd/containerd.sock) exists.
    setsid dockerd \
        --host "$PRIVATE_HOST" \
        --config-file "$CONFIG_FILE" \
        --storage-driver "$driver" \
        --iptables=false \
        --ip-forward=false \
        --ip-masq=false \
        --bridge=none \
        --data-root "$DATA_ROOT" \
        --exec-root "$EXEC_ROOT" \
        --pidfile "$PIDFILE" \
        </dev/null >>"$LOGFILE" 2>&1 &
    LAUNCHED_PID=$!
}

# wait_for_dockerd PID: 0 once it answers, 1 if it exits, 2 on timeout.
wait_for_dockerd() {
    local pid="$1"
    local deadline=$((SECONDS + START_TIMEOUT))
    until engine_answers "$PRIVATE_HOST"; do
        pid_alive "$pid" || return 1
        ((SECONDS < deadline)) || return 2
        sleep 0.2
    done
}

die_start() {
    local pid="$1" rc="$2"
    log "last lines of $LOGFILE:"
    tail -n 25 "$LOGFILE" >&2 || true
    if [[ "$rc" -eq 1 ]]; then
        die "dockerd (pid $pid) exited during start-up"
    fi
    die "dockerd (pid $pid) did not answer on $PRIVATE_HOST within ${START_TIMEOUT}s"
}

start_private_dockerd() {
    is_root || die "no Docker engine answers, and starting one needs root (uid is $(id -u)); run this as root or point DOCKER_HOST at a running engine"
    is_debian || die "no Docker engine answers, and this machine is not Debian (no /etc/debian_version or apt-get), so docker.io cannot be installed; point DOCKER_HOST at a running engine"

    if ! have dockerd || ! have docker; then
        if ! have dockerd && have docker; then
            log "a docker client exists ($(command -v docker)) but dockerd does not; installing Debian's docker.io"
        else
            log "dockerd not found; installing Debian's docker.io"
        fi
        apt_update_once
        if ! apt-cache show docker.io >/dev/null 2>&1; then
            die "package docker.io is not available from this machine's apt sources"
        fi
        apt_install docker.io
        have dockerd || die "docker.io is installed but dockerd is still not on PATH"
    fi

    if [[ ! -e /sys/fs/cgroup/cgroup.controllers && ! -d /sys/fs/cgroup/memory ]]; then
        log "warning: no cgroup hierarchy found under /sys/fs/cgroup; containers may fail to start (Debian's cgroupfs-mount package can mount one)"
    fi

    mkdir -p "$PRIVATE_DIR" "$EXEC_ROOT" "$DATA_ROOT"
    chmod 711 "$PRIVATE_DIR"

    local pid
    pid="$(our_dockerd_pid)"
    if [[ -n "$pid" ]]; then
        log "our dockerd (pid $pid) is already running but not answering yet; waiting for it"
        wait_for_dockerd "$pid" || die_start "$pid" $?
    else
        if [[ -e "$PIDFILE" ]]; then
            log "removing stale pidfile $PIDFILE"
            rm -f "$PIDFILE"
        fi
        # A private, empty config keeps /etc/docker/daemon.json (if any) from
        # conflicting with our flags.
        [[ -e "$CONFIG_FILE" ]] || printf '{}\n' >"$CONFIG_FILE"
        local drivers=("$STORAGE_DRIVER") driver rc
        # overlay2 creates containers in ~0.1 s; vfs copies the whole image
        # for every container (seconds), so it is only the fallback.
        [[ "$STORAGE_DRIVER" == auto ]] && drivers=(overlay2 vfs)
        for driver in "${drivers[@]}"; do
            launch_dockerd "$driver"
            pid="$LAUNCHED_PID"
            rc=0
            wait_for_dockerd "$pid" || rc=$?
            [[ "$rc" -eq 0 ]] && break
            if [[ "$rc" -eq 1 && "$driver" != "${drivers[-1]}" ]]; then
                log "dockerd did not start with storage driver $driver (see $LOGFILE); trying the next one"
                rm -f "$PIDFILE"
                continue
            fi
            die_start "$pid" "$rc"
        done
    fi

    # dockerd answering does not prove containerd works: check it reports one.
    local ctr
    ctr="$(DOCKER_HOST="$PRIVATE_HOST" timeout 10 docker info --format '{{.ContainerdCommit.ID}}' 2>/dev/null || true)"
    if [[ -z "$ctr" || "$ctr" == "<no value>" ]]; then
        log "warning: dockerd answers but reports no containerd; see $LOGFILE"
    fi
    log "engine ready: $(server_desc "$PRIVATE_HOST")"
}

cmd_up() {
    local host
    if host="$(find_engine)"; then
        log "reusing the engine that answers on $host ($(server_desc "$host"))"
        print_engine_exports "$host"
        return 0
    fi
    log "no Docker engine answers; starting a private one"
    start_private_dockerd
    print_engine_exports "$PRIVATE_HOST"
}

# --------------------------------------------------------------------------
# base-image

# debian_mirror: print "URI<TAB>SIGNED_BY" for the Debian archive that apt on
# this machine uses, read from sources.list and sources.list.d (both one-line
# and deb822 .sources formats). Prefers an entry for $BASE_SUITE.
debian_mirror() {
    local files=()
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [[ -r "$f" ]] && files+=("$f")
    done
    [[ "${#files[@]}" -gt 0 ]] || return 0
    awk -v suite="$BASE_SUITE" '
        function consider(types, uris, suites, comps, signed,   n, i, s, u, m, j, su, best) {
            if (types !~ /(^|[ \t])deb([ \t]|$)/) return
            if (comps !~ /(^|[ \t])main([ \t]|$)/) return
            n = split(uris, u, /[ \t]+/)
            m = split(suites, su, /[ \t]+/)
            for (i = 1; i <= n; i++) {
                if (u[i] == "" || u[i] ~ /^cdrom:/) continue
                for (j = 1; j <= m; j++) {
                    if (su[j] == suite && exact == "") exact = u[i] "\t" signed
                    else if (su[j] ~ /^[a-z]+$/ && u[i] ~ /\/debian\/?$/ && other == "") other = u[i] "\t" signed
                }
            }
        }
        function flush() {
            if (enabled !~ /^(no|false)$/) consider(t, us, ss, cs, sb)
            t = us = ss = cs = sb = enabled = ""; field = ""
        }
        FNR == 1 { if (NR > 1) flush(); deb822 = (FILENAME ~ /\.sources$/) }
        {
            line = $0
            sub(/#.*/, "", line)
            if (deb822) {
                if (line ~ /^[ \t]*$/) { if ($0 !~ /^[ \t]*#/) flush(); next }
                if (line ~ /^[ \t]/) next              # continuation (e.g. inline key)
                k = line; sub(/:.*/, "", k); v = line; sub(/^[^:]*:[ \t]*/, "", v)
                k = tolower(k); sub(/[ \t]+$/, "", v)
                if (k == "types") t = v; else if (k == "uris") us = v
                else if (k == "suites") ss = v; else if (k == "components") cs = v
                else if (k == "enabled") enabled = tolower(v)
                else if (k == "signed-by" && v ~ /^\//) sb = v
                next
            }
            if (line ~ /^[ \t]*$/) next
            opts = ""
            if (match(line, /\[[^]]*\]/)) {
                opts = substr(line, RSTART + 1, RLENGTH - 2)
                line = substr(line, 1, RSTART - 1) " " substr(line, RSTART + RLENGTH)
            }
            nf = split(line, w, /[ \t]+/)
            k = 0
            for (i = 1; i <= nf; i++) if (w[i] != "") ww[++k] = w[i]
            if (k < 4) next
            signed = ""
            if (match(opts, /signed-by=[^ \t]+/)) signed = substr(opts, RSTART + 10, RLENGTH - 10)
            comps = ""
            for (i = 4; i <= k; i++) comps = comps " " ww[i]
            consider(ww[1], ww[2], ww[3], comps, signed)
        }
        END {
            flush()
            if (exact != "") print exact; else if (other != "") print other
        }
    ' "${files[@]}"
}

# mounts_under DIR: print the mount points at or below DIR, deepest first.
mounts_under() {
    awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r
}

# unmount_under DIR: lazily unmount everything at or below DIR; false if
# something is still mounted there afterwards.
unmount_under() {
    local dir="$1" mnt
    while read -r mnt; do
        [[ -n "$mnt" ]] || continue
        umount -l "$mnt" 2>/dev/null || log "warning: could not unmount $mnt"
    done < <(mounts_under "$dir")
    [[ -z "$(mounts_under "$dir")" ]]
}

# Unmount anything left mounted below DIR (debootstrap may bind-mount /dev,
# /proc, /sys into the target), then remove it on this filesystem only.
remove_build_dir() {
    local dir="$1"
    [[ -n "$dir" && -d "$dir" ]] || return 0
    if ! unmount_under "$dir"; then
        log "warning: something is still mounted under $dir; leaving it in place"
        return 0
    fi
    rm -rf --one-file-system "$dir"
}

cleanup() {
    remove_tmp_policy_rc
    if [[ -n "$BUILD_DIR" ]]; then
        remove_build_dir "$BUILD_DIR"
        BUILD_DIR=""
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cmd_base_image() {
    local rebuild=0
    while [[ $# -gt 0 ]]; do
        case "$1" in
            --rebuild) rebuild=1 ;;
            *) die "base-image: unknown option: $1" ;;
        esac
        shift
    done

    local host
    if [[ -n "${DOCKER_HOST:-}" ]]; then
        engine_answers "$DOCKER_HOST" ||
            die "no Docker engine answers on DOCKER_HOST=$DOCKER_HOST; run: eval \"\$($0 up)\" first"
        host="$DOCKER_HOST"
    elif host="$(find_engine)"; then
        log "DOCKER_HOST is not set; using the engine that answers on $host"
        printf 'export DOCKER_HOST=%q\n' "$host"
    else
        die "no Docker engine answers (DOCKER_HOST is not set); run: eval \"\$($0 up)\" first"
    fi
    export DOCKER_HOST="$host"

    if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
        if [[ "$rebuild" -eq 0 ]]; then
            log "reusing existing image $BASE_IMAGE ($(docker image inspect --format '{{.Id}}, {{.Size}} bytes' "$BASE_IMAGE"))"
            printf 'export TARGET_BASE_IMAGE=%q\n' "$BASE_IMAGE"
            return 0
        fi
        log "--rebuild: removing $BASE_IMAGE"
        docker image rm "$BASE_IMAGE" >&2
    fi

    is_root || die "building $BASE_IMAGE needs root for debootstrap (uid is $(id -u))"
    is_debian || die "building $BASE_IMAGE needs debootstrap from Debian's apt; this machine is not Debian"
    if ! have debootstrap; then
        log "debootstrap not found; installing it"
        apt_install debootstrap
    fi

    local mirror signed_by entry
    if [[ -n "${SRE_DEBIAN_MIRROR:-}" ]]; then
        mirror="$SRE_DEBIAN_MIRROR"
        signed_by=""
    else
        entry="$(debian_mirror)"
        [[ -n "$entry" ]] ||
            die "found no Debian archive for '$BASE_SUITE' (type deb, component main) in /etc/apt/sources.list or /etc/apt/sources.list.d/*.{list,sources}; set SRE_DEBIAN_MIRROR=<url>"
        mirror="${entry%%$'\t'*}"
        signed_by="${entry#*$'\t'}"
    fi
    local keyring_opt=()
    if [[ -n "$signed_by" && -r "$signed_by" ]]; then
        keyring_opt=(--keyring="$signed_by")
    elif [[ -r /usr/share/keyrings/debian-archive-keyring.gpg ]]; then
        keyring_opt=(--keyring=/usr/share/keyrings/debian-archive-keyring.gpg)
    fi

    BUILD_DIR="$(mktemp -d /var/tmp/sre-target-base.XXXXXX)"
    local rootfs="$BUILD_DIR/rootfs"
    log "debootstrap --variant=minbase --include=$BASE_PACKAGES $BASE_SUITE $rootfs $mirror"
    if ! debootstrap --variant=minbase --include="$BASE_PACKAGES" "${keyring_opt[@]}" \
        "$BASE_SUITE" "$rootfs" "$mirror" >&2; then
        [[ -r "$rootfs/debootstrap/debootstrap.log" ]] && tail -n 25 "$rootfs/debootstrap/debootstrap.log" >&2
        die "debootstrap failed"
    fi

    # Slim it down: package caches and index lists are not needed at run time.
    rm -rf "${rootfs:?}"/var/cache/apt/archives/*.deb "${rootfs:?}"/var/cache/apt/*.bin \
        "${rootfs:?}"/var/lib/apt/lists/* "${rootfs:?}"/var/log/* "${rootfs:?}"/tmp/*

    log "importing $rootfs as $BASE_IMAGE"
    # /dev, /proc and /sys are provided by the container runtime.
    tar -C "$rootfs" --numeric-owner --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -c . |
        docker import \
            --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
            --change 'ENV LANG=C.UTF-8' \
            --change 'CMD ["python3"]' \
            --message "debootstrap --variant=minbase --include=$BASE_PACKAGES $BASE_SUITE" \
            - "$BASE_IMAGE" >&2

    remove_build_dir "$BUILD_DIR"
    BUILD_DIR=""
    log "built $BASE_IMAGE ($(docker image inspect --format '{{.Id}}, {{.Size}} bytes' "$BASE_IMAGE"))"
    printf 'export TARGET_BASE_IMAGE=%q\n' "$BASE_IMAGE"
}

# --------------------------------------------------------------------------
# down / status

# dockerd leaves bind mounts behind (e.g. EXEC_ROOT/netns/default). Only
# called when no dockerd of ours runs; these paths are ours alone.
unmount_leftovers() {
    local dir
    for dir in "$EXEC_ROOT" "$DATA_ROOT"; do
        [[ -d "$dir" && -n "$(mounts_under "$dir")" ]] || continue
        log "unmounting what dockerd left mounted under $dir"
        unmount_under "$dir" || log "warning: something is still mounted under $dir"
    done
}

cmd_down() {
    local pid
    pid="$(our_dockerd_pid)"
    if [[ -z "$pid" ]]; then
        if [[ -e "$PIDFILE" ]]; then
            log "pidfile $PIDFILE names no running dockerd of ours; removing it"
            rm -f "$PIDFILE"
        fi
        unmount_leftovers
        log "no dockerd started by this script is running; nothing to stop"
        return 0
    fi
    log "stopping our dockerd (pid $pid)"
    kill -TERM "$pid"
    local deadline=$((SECONDS + STOP_TIMEOUT))
    while pid_alive "$pid"; do
        if ((SECONDS >= deadline)); then
            log "dockerd (pid $pid) did not exit within ${STOP_TIMEOUT}s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            # Its supervised containerd would otherwise be left behind.
            local cpid
            cpid="$(tr -dc '0-9' <"$EXEC_ROOT/containerd/containerd.pid" 2>/dev/null || true)"
            if [[ -n "$cpid" ]] && pid_alive "$cpid" &&
                [[ "$(cat "/proc/$cpid/comm" 2>/dev/null || true)" == containerd* ]]; then
                kill -KILL "$cpid" 2>/dev/null || true
            fi
            sleep 1
            break
        fi
        sleep 0.2
    done
    if pid_alive "$pid"; then
        die "dockerd (pid $pid) is still running"
    fi
    rm -f "$PIDFILE"
    unmount_leftovers
    log "dockerd stopped"
}

cmd_status() {
    local found=0 host shown=()
    for host in "${DOCKER_HOST:-}" "$DEFAULT_HOST" "$PRIVATE_HOST"; do
        [[ -n "$host" ]] || continue
        if [[ " ${shown[*]-} " == *" $host "* ]]; then continue; fi
        shown+=("$host")
        if engine_answers "$host"; then
            local net="bridge networking"
            needs_host_network "$host" && net="no bridge: use --network host"
            echo "engine answers on $host: $(server_desc "$host"); $net"
            found=1
        else
            echo "no engine on $host"
        fi
    done
    local pid
    pid="$(our_dockerd_pid)"
    if [[ -n "$pid" ]]; then
        echo "private dockerd started by $PROG: running, pid $pid (log $LOGFILE)"
    else
        echo "private dockerd started by $PROG: not running"
    fi
    if [[ -n "${DOCKER_HOST:-}" ]]; then
        echo "DOCKER_HOST=$DOCKER_HOST"
    else
        echo "DOCKER_HOST is not set"
    fi
    [[ "$found" -eq 1 ]]
}

main() {
    local cmd="${1:-}"
    [[ $# -gt 0 ]] && shift
    case "$cmd" in
        up) cmd_up "$@" ;;
        base-image) cmd_base_image "$@" ;;
        down) cmd_down "$@" ;;
        status) cmd_status "$@" ;;
        -h | --help | help)
            usage
            ;;
        "")
            usage >&2
            exit 2
            ;;
        *)
            usage >&2
            die "unknown command: $cmd"
            ;;
    esac
}

main "$@"
