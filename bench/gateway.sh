#!/usr/bin/env bash
# Gateway benchmark: requests/s and p50/p99 latency for a 1 KiB JSON response, measured with wrk
# (a) direct to a fixed-response backend, (b) through nginx, (c) through `ficus serve`,
# interleaved round by round so that a noisy machine hurts every target alike.
#
# Usage: bash bench/gateway.sh          (see bench/README.md for the knobs below)
set -euo pipefail

# ---- knobs ---------------------------------------------------------------------------------
ROUNDS="${ROUNDS:-3}"                   # rounds of (direct, nginx, ficus)
DURATION="${DURATION:-10}"              # seconds measured per target per round
WARMUP="${WARMUP:-2}"                   # seconds of unmeasured load before each measured run
CONNECTIONS="${CONNECTIONS:-32}"        # wrk -c
THREADS="${THREADS:-2}"                 # wrk -t
BACKEND_WORKERS="${BACKEND_WORKERS:-1}" # tokio worker threads of the backend
NGINX_WORKERS="${NGINX_WORKERS:-auto}"  # nginx worker_processes ("auto" = one per core)
TARGETS="${TARGETS:-direct nginx ficus}"
REQUEST_PATH="${REQUEST_PATH:-/bench/1}"
SKIP_BUILD="${SKIP_BUILD:-0}"           # 1: use the binaries already in target/release
KEEP_TMP="${KEEP_TMP:-0}"               # 1: keep the temp dir (configs, logs) for inspection

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT_DIR="$ROOT/bench/out"

log() { printf '[gateway.sh] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

has_target() { [[ " $TARGETS " == *" $1 "* ]]; }
for t in $TARGETS; do
    case "$t" in direct | nginx | ficus) ;; *) die "unknown target '$t' in TARGETS" ;; esac
done
has_target direct || die "TARGETS must include 'direct' (the added-latency figures are relative to it)"
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer"

# ---- temp dir, processes, cleanup -----------------------------------------------------------
TMP="$(mktemp -d -t ficus-gateway-bench.XXXXXX)"
declare -A PIDS=()   # name -> pid of every process this script started

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

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    local name
    for name in "${!PIDS[@]}"; do
        stop_pid "$name" "${PIDS[$name]}"
    done
    if ((rc != 0)); then
        show_logs
    fi
    if [[ "$KEEP_TMP" == 1 ]]; then
        log "kept temp dir $TMP"
    else
        rm -rf -- "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

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

if has_target nginx && ! find_nginx >/dev/null; then
    log "installing nginx-light"
    apt_install nginx-light || apt_install nginx
fi
if ! command -v wrk >/dev/null; then
    log "installing wrk"
    apt_install wrk
fi
command -v curl >/dev/null || apt_install curl
WRK="$(command -v wrk)"
if has_target nginx; then
    NGINX="$(find_nginx)" || die "nginx not found after install"
fi

# ---- build ----------------------------------------------------------------------------------
if [[ "$SKIP_BUILD" != 1 ]]; then
    log "building (release): ficus, ficus-bench-backend"
    cargo build --release -p ficus -p ficus-bench-backend
fi
BACKEND_BIN="$TARGET_DIR/release/ficus-bench-backend"
FICUS_BIN="$TARGET_DIR/release/ficus"
[[ -x "$BACKEND_BIN" ]] || die "missing $BACKEND_BIN"
if has_target ficus; then
    [[ -x "$FICUS_BIN" ]] || die "missing $FICUS_BIN"
    "$FICUS_BIN" serve --help >/dev/null 2>&1 ||
        die "'ficus serve' is not available in $FICUS_BIN (run with TARGETS=\"direct nginx\" to skip it)"
fi

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
BACKEND_PORT="$(free_port)"
NGINX_PORT="$(free_port)"
GATEWAY_PORT="$(free_port)"
ADMIN_PORT="$(free_port)"

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

check_body() { # name url: one request must return 200 with the backend's 1024-byte JSON body
    local name="$1" url="$2" out
    out="$(curl -s -o "$TMP/check.body" -w '%{http_code} %{content_type}' --max-time 5 "$url")" ||
        die "$name: request to $url failed"
    local size
    size="$(wc -c <"$TMP/check.body")"
    [[ "$out" == "200 application/json"* && "$size" -eq 1024 ]] ||
        die "$name: $url answered '$out' with $size bytes (want 200 application/json, 1024 bytes)"
}

# ---- backend --------------------------------------------------------------------------------
log "backend on 127.0.0.1:$BACKEND_PORT ($BACKEND_WORKERS worker thread(s))"
"$BACKEND_BIN" --listen "127.0.0.1:$BACKEND_PORT" --workers "$BACKEND_WORKERS" >"$TMP/backend.log" 2>&1 &
PIDS[backend]=$!
wait_http backend "http://127.0.0.1:$BACKEND_PORT$REQUEST_PATH"
check_body direct "http://127.0.0.1:$BACKEND_PORT$REQUEST_PATH"

# ---- nginx ----------------------------------------------------------------------------------
if has_target nginx; then
    mkdir -p "$TMP/nginx"
    if ((EUID == 0)); then
        chmod 0755 "$TMP" # workers drop to 'nobody' and must reach their temp paths
    fi
    cat >"$TMP/nginx/nginx.conf" <<EOF
# Generated by bench/gateway.sh; self-contained: nothing from /etc/nginx is included.
worker_processes $NGINX_WORKERS;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx.log warn;

events {
    worker_connections 4096;
}

http {
    access_log off;
    client_body_temp_path $TMP/nginx/client_body;
    proxy_temp_path       $TMP/nginx/proxy;
    fastcgi_temp_path     $TMP/nginx/fastcgi;
    uwsgi_temp_path       $TMP/nginx/uwsgi;
    scgi_temp_path        $TMP/nginx/scgi;

    upstream backend {
        server 127.0.0.1:$BACKEND_PORT;
        keepalive 64;
    }

    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
    # -p/-e keep the prefix and the start-up error log inside the temp dir (never /var/log/nginx).
    "$NGINX" -t -q -p "$TMP/nginx/" -e "$TMP/nginx.log" -c "$TMP/nginx/nginx.conf" ||
        die "nginx rejected its config"
    log "nginx on 127.0.0.1:$NGINX_PORT (worker_processes $NGINX_WORKERS)"
    "$NGINX" -p "$TMP/nginx/" -e "$TMP/nginx.log" -c "$TMP/nginx/nginx.conf" >>"$TMP/nginx.log" 2>&1 &
    PIDS[nginx]=$!
    wait_http nginx "http://127.0.0.1:$NGINX_PORT$REQUEST_PATH"
    check_body nginx "http://127.0.0.1:$NGINX_PORT$REQUEST_PATH"
    NGINX_WORKER_COUNT="$(pgrep -P "${PIDS[nginx]}" | wc -l)"
fi

# ---- ficus ----------------------------------------------------------------------------------
if has_target ficus; then
    cat >"$TMP/plan.toml" <<EOF
[listener]
address = "127.0.0.1:$GATEWAY_PORT"
[admin]
address = "127.0.0.1:$ADMIN_PORT"
[state]
path = "$TMP/state.db"
[upstreams.legacy]
url = "http://127.0.0.1:$BACKEND_PORT"
pool_max_idle = 64
[upstreams.new]
url = "http://127.0.0.1:$BACKEND_PORT"
pool_max_idle = 64
[domains.bench]
phase = "legacy"
routes = [{ methods = ["GET"], path = "/bench/{id}" }]
EOF
    log "ficus gateway on 127.0.0.1:$GATEWAY_PORT, admin on 127.0.0.1:$ADMIN_PORT"
    FICUS_ADMIN_TOKEN=bench-token "$FICUS_BIN" serve -c "$TMP/plan.toml" >"$TMP/ficus.log" 2>&1 &
    PIDS[ficus]=$!
    wait_http ficus "http://127.0.0.1:$ADMIN_PORT/readyz"
    wait_http ficus "http://127.0.0.1:$GATEWAY_PORT$REQUEST_PATH"
    check_body ficus "http://127.0.0.1:$GATEWAY_PORT$REQUEST_PATH"
    FICUS_THREADS="$(find "/proc/${PIDS[ficus]}/task" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)"
fi

# ---- measuring ------------------------------------------------------------------------------
url_for() {
    case "$1" in
        direct) echo "http://127.0.0.1:$BACKEND_PORT$REQUEST_PATH" ;;
        nginx) echo "http://127.0.0.1:$NGINX_PORT$REQUEST_PATH" ;;
        ficus) echo "http://127.0.0.1:$GATEWAY_PORT$REQUEST_PATH" ;;
    esac
}

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

declare -A RPS=() P50=() P99=() ERRS=() NON2XX=()   # key: target:round
run_one() { # target round
    local target="$1" round="$2" url out parsed
    url="$(url_for "$target")"
    if ((WARMUP > 0)); then
        "$WRK" -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" "$url" >/dev/null 2>&1 ||
            die "wrk warm-up against $target failed"
    fi
    out="$("$WRK" -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$url" 2>&1)" ||
        die "wrk against $target failed: $out"
    printf '%s\n' "$out" >"$TMP/wrk-$target-$round.txt"
    parsed="$(parse_wrk <<<"$out")" || die "could not parse wrk output for $target:\n$out"
    local rps p50 p99 reqs errs non2xx
    read -r rps p50 p99 reqs errs non2xx <<<"$parsed"
    RPS[$target:$round]=$rps
    P50[$target:$round]=$p50
    P99[$target:$round]=$p99
    ERRS[$target:$round]=$errs
    NON2XX[$target:$round]=$non2xx
    log "$(printf 'round %d  %-6s  %10.0f req/s  p50 %7.3f ms  p99 %7.3f ms  socket errors %d  non-2xx %d' \
        "$round" "$target" "$rps" "$p50" "$p99" "$errs" "$non2xx")"
    if [[ -n "${PIDS[$target]:-}" ]] && ! kill -0 "${PIDS[$target]}" 2>/dev/null; then
        die "$target exited during the run"
    fi
    kill -0 "${PIDS[backend]}" 2>/dev/null || die "backend exited during the run"
}

median() { # values...: the median (mean of the two middle values for an even count)
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

STARTED_AT="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
LOADAVG_START="$(cut -d' ' -f1-3 /proc/loadavg)"
log "measuring: $ROUNDS round(s) of ($TARGETS), ${WARMUP}s warm-up + ${DURATION}s each, wrk -t$THREADS -c$CONNECTIONS"
for ((round = 1; round <= ROUNDS; round++)); do
    for target in $TARGETS; do
        run_one "$target" "$round"
    done
done
LOADAVG_END="$(cut -d' ' -f1-3 /proc/loadavg)"

# ---- report ---------------------------------------------------------------------------------
declare -A M_RPS=() M_P50=() M_P99=() TOTAL_ERRS=()
for target in $TARGETS; do
    r=() a=() b=()
    e=0
    for ((round = 1; round <= ROUNDS; round++)); do
        r+=("${RPS[$target:$round]}")
        a+=("${P50[$target:$round]}")
        b+=("${P99[$target:$round]}")
        e=$((e + ${ERRS[$target:$round]} + ${NON2XX[$target:$round]}))
    done
    M_RPS[$target]="$(median "${r[@]}")"
    M_P50[$target]="$(median "${a[@]}")"
    M_P99[$target]="$(median "${b[@]}")"
    TOTAL_ERRS[$target]=$e
done

calc() { awk "BEGIN { printf \"%.3f\", $1 }"; }

echo
echo "Gateway benchmark — 1 KiB JSON, wrk -t$THREADS -c$CONNECTIONS, $ROUNDS rounds x ${DURATION}s (after ${WARMUP}s warm-up), median per metric"
echo "Machine: $(nproc) cores, load avg $LOADAVG_START -> $LOADAVG_END; backend $BACKEND_WORKERS worker thread(s)${NGINX:+; nginx worker_processes $NGINX_WORKERS (${NGINX_WORKER_COUNT:-?} workers)}${FICUS_THREADS:+; ficus $FICUS_THREADS threads}"
echo
printf '%-8s %12s %10s %10s %14s %8s\n' target "req/s" "p50 ms" "p99 ms" "added p99 ms" errors
printf '%-8s %12s %10s %10s %14s %8s\n' -------- ------------ ---------- ---------- -------------- --------
for target in $TARGETS; do
    added="$(calc "${M_P99[$target]} - ${M_P99[direct]}")"
    printf '%-8s %12.0f %10.3f %10.3f %14s %8d\n' "$target" "${M_RPS[$target]}" "${M_P50[$target]}" \
        "${M_P99[$target]}" "$([[ $target == direct ]] && echo - || echo "$added")" "${TOTAL_ERRS[$target]}"
done
echo
echo "Per round (req/s / p99 ms):"
for target in $TARGETS; do
    line="$(printf '  %-8s' "$target")"
    for ((round = 1; round <= ROUNDS; round++)); do
        line+="$(printf '  %9.0f / %7.3f' "${RPS[$target:$round]}" "${P99[$target:$round]}")"
    done
    echo "$line"
done

VERDICT_JSON=""
if has_target nginx && has_target ficus; then
    rps_ratio="$(calc "${M_RPS[ficus]} / ${M_RPS[nginx]}")"
    ficus_added="$(calc "${M_P99[ficus]} - ${M_P99[direct]}")"
    nginx_added="$(calc "${M_P99[nginx]} - ${M_P99[direct]}")"
    throughput_ok="$(awk "BEGIN { print (${M_RPS[ficus]} >= ${M_RPS[nginx]}) ? \"true\" : \"false\" }")"
    latency_ok="$(awk "BEGIN { print ($ficus_added <= $nginx_added) ? \"true\" : \"false\" }")"
    echo
    echo "Ratios:"
    printf '  Ficus req/s / nginx req/s          = %s   (target >= 1.000: %s)\n' "$rps_ratio" \
        "$([[ $throughput_ok == true ]] && echo met || echo NOT met)"
    printf '  Ficus added p99 vs nginx added p99 = %s ms vs %s ms   (target ficus <= nginx: %s)\n' \
        "$ficus_added" "$nginx_added" "$([[ $latency_ok == true ]] && echo met || echo NOT met)"
    printf '  Ficus p99 - nginx p99              = %s ms   (same comparison, without the direct baseline)\n' \
        "$(calc "${M_P99[ficus]} - ${M_P99[nginx]}")"
    VERDICT_JSON="$(printf '"ratios": {"ficus_rps_over_nginx_rps": %s, "ficus_added_p99_ms": %s, "nginx_added_p99_ms": %s, "throughput_target_met": %s, "added_p99_target_met": %s},' \
        "$rps_ratio" "$ficus_added" "$nginx_added" "$throughput_ok" "$latency_ok")"
fi

# ---- JSON -----------------------------------------------------------------------------------
mkdir -p "$OUT_DIR"
JSON_OUT="$OUT_DIR/gateway-$STAMP.json"
{
    printf '{\n'
    printf '  "started_at": "%s",\n' "$STARTED_AT"
    printf '  "config": {"rounds": %d, "duration_s": %d, "warmup_s": %d, "connections": %d, "wrk_threads": %d, "backend_workers": %d, "nginx_worker_processes": "%s", "nginx_workers_running": %s, "ficus_threads": %s, "path": "%s", "body_bytes": 1024},\n' \
        "$ROUNDS" "$DURATION" "$WARMUP" "$CONNECTIONS" "$THREADS" "$BACKEND_WORKERS" "$NGINX_WORKERS" \
        "${NGINX_WORKER_COUNT:-null}" "${FICUS_THREADS:-null}" "$REQUEST_PATH"
    printf '  "machine": {"cores": %d, "cpu": "%s", "kernel": "%s", "loadavg_start": "%s", "loadavg_end": "%s", "nginx": "%s", "wrk": "%s"},\n' \
        "$(nproc)" "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo | tr -d '"\\')" "$(uname -r)" \
        "$LOADAVG_START" "$LOADAVG_END" \
        "$(if [[ -n "${NGINX:-}" ]]; then "$NGINX" -v 2>&1 | sed 's/.*: //'; fi)" \
        "$("$WRK" -v 2>&1 | head -n1 | awk '{ print $2 }')"
    [[ -z "$VERDICT_JSON" ]] || printf '  %s\n' "$VERDICT_JSON"
    printf '  "targets": {\n'
    first=1
    for target in $TARGETS; do
        ((first)) || printf ',\n'
        first=0
        rounds_json=""
        for ((round = 1; round <= ROUNDS; round++)); do
            rounds_json+="$( ((round == 1)) || printf ', ')"
            rounds_json+="$(printf '{"rps": %s, "p50_ms": %s, "p99_ms": %s, "socket_errors": %d, "non_2xx": %d}' \
                "${RPS[$target:$round]}" "${P50[$target:$round]}" "${P99[$target:$round]}" \
                "${ERRS[$target:$round]}" "${NON2XX[$target:$round]}")"
        done
        printf '    "%s": {"median": {"rps": %s, "p50_ms": %s, "p99_ms": %s, "added_p99_ms": %s}, "rounds": [%s]}' \
            "$target" "${M_RPS[$target]}" "${M_P50[$target]}" "${M_P99[$target]}" \
            "$(calc "${M_P99[$target]} - ${M_P99[direct]}")" "$rounds_json"
    done
    printf '\n  }\n}\n'
} >"$JSON_OUT"
echo
echo "JSON: ${JSON_OUT#"$ROOT"/}"
