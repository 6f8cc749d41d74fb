# Shared helpers for the bench/*.sh scripts. Source it after setting BENCH_NAME (used as the
# log prefix) and KEEP_TMP; then call `bench_start` to get the temp dir $TMP and the exit trap.
#
# Provides: log, die, bench_start (TMP, PIDS, cleanup trap), stop_pid, find_nginx, apt_install,
# ensure_wrk, ensure_nginx, free_port, wait_http, parse_wrk, median, calc, cpu_model.
# shellcheck shell=bash

log() { printf '[%s] %s\n' "${BENCH_NAME:-bench}" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---- temp dir, processes, cleanup -----------------------------------------------------------
declare -A PIDS=()   # name -> pid of every process the script started

stop_pid() { # name pid: TERM, wait up to 10 s, then KILL
    local name="$1" pid="$2" i
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "$name (pid $pid) ignored SIGTERM for 10 s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

show_logs() {
    local f
    for f in "$TMP"/*.log; do
        [[ -s "$f" ]] || continue
        log "---- last lines of $(basename "$f") ----"
        tail -n 20 "$f" >&2 || true
    done
}

bench_cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    local name
    for name in "${!PIDS[@]}"; do
        stop_pid "$name" "${PIDS[$name]}"
    done
    if ((rc != 0)); then
        show_logs
    fi
    if [[ "${KEEP_TMP:-0}" == 1 ]]; then
        log "kept temp dir $TMP"
    else
        rm -rf -- "$TMP"
    fi
    exit "$rc"
}

bench_start() { # create $TMP and stop every started process (by PID) on exit
    TMP="$(mktemp -d -t "ficus-${BENCH_NAME:-bench}.XXXXXX")"
    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# ---- tools ----------------------------------------------------------------------------------
find_nginx() {
    command -v nginx 2>/dev/null && return 0
    [[ -x /usr/sbin/nginx ]] && { echo /usr/sbin/nginx; return 0; }
    return 1
}

apt_install() { # pkg...: install, running `apt-get update` first only if the package lists need it
    local sudo=()
    if ((EUID != 0)); then
        command -v sudo >/dev/null || die "need root or sudo to apt-get install $*"
        sudo=(sudo)
    fi
    export DEBIAN_FRONTEND=noninteractive
    if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
        "${sudo[@]}" apt-get update -qq
    fi
    if ! "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@" >/dev/null; then
        log "apt-get install failed; refreshing package lists and retrying"
        "${sudo[@]}" apt-get update -qq
        "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@" >/dev/null
    fi
}

ensure_nginx() { # sets NGINX
    if ! find_nginx >/dev/null; then
        log "installing nginx-light"
        apt_install nginx-light || apt_install nginx
    fi
    # shellcheck disable=SC2034 # used by the sourcing script
    NGINX="$(find_nginx)" || die "nginx not found after install"
}

ensure_wrk() { # sets WRK; also makes sure curl is there
    if ! command -v wrk >/dev/null; then
        log "installing wrk"
        apt_install wrk
    fi
    command -v curl >/dev/null || apt_install curl
    # shellcheck disable=SC2034 # used by the sourcing script
    WRK="$(command -v wrk)"
}

# ---- ports ----------------------------------------------------------------------------------
declare -A USED_PORTS=()
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { # a loopback port nothing listens on and that this script has not handed out yet
    local p i
    for ((i = 0; i < 200; i++)); do
        p=$((20000 + RANDOM % 40000))
        [[ -z "${USED_PORTS[$p]:-}" ]] || continue
        if ss -Htan "sport = :$p" 2>/dev/null | grep -q .; then continue; fi
        port_in_use "$p" && continue
        USED_PORTS[$p]=1
        echo "$p"
        return 0
    done
    die "could not find a free loopback port"
}

# ---- start helpers --------------------------------------------------------------------------
wait_http() { # name url [expected status]: poll until the URL answers with the status (30 s)
    local name="$1" url="$2" want="${3:-200}" code i
    for ((i = 0; i < 300; i++)); do
        if [[ -n "${PIDS[$name]:-}" ]] && ! kill -0 "${PIDS[$name]}" 2>/dev/null; then
            die "$name exited during start-up"
        fi
        code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$url" || true)"
        [[ "$code" == "$want" ]] && return 0
        sleep 0.1
    done
    die "$name did not answer $want on $url within 30 s (last status: ${code:-none})"
}

# ---- numbers --------------------------------------------------------------------------------
# Parses wrk --latency output into "rps p50_ms p99_ms requests errors non2xx" (latencies in ms).
parse_wrk() {
    awk '
        function ms(v,   n) {
            n = v + 0
            if (v ~ /us$/) return n / 1000
            if (v ~ /ms$/) return n
            if (v ~ /m$/)  return n * 60000
            if (v ~ /s$/)  return n * 1000
            return n
        }
        $1 == "50%" { p50 = ms($2) }
        $1 == "99%" { p99 = ms($2) }
        /requests in/ { reqs = $1 }
        /^Requests\/sec:/ { rps = $2 }
        /Socket errors:/ {
            for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) { gsub(",", "", $i); errs += $i }
        }
        /Non-2xx or 3xx responses:/ { non2xx = $NF }
        END {
            if (rps == "" || p99 == "") exit 1
            printf "%.2f %.3f %.3f %d %d %d\n", rps, p50, p99, reqs, errs + 0, non2xx + 0
        }
    '
}

median() { # values...: the median (mean of the two middle values for an even count)
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

calc() { awk "BEGIN { printf \"%.3f\", $1 }"; }

# shellcheck disable=SC1003 # tr deletes the characters " and \ (they would break the JSON)
cpu_model() { awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo | tr -d '"\\'; }

bench_init() { # prefix: create the temp dir ($TMP) and install the exit/signal traps
    TMP="$(mktemp -d -t "$1.XXXXXX")"
    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

mark_port() { USED_PORTS[$1]=1; }
