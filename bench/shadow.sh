#!/usr/bin/env bash
# Shadow-read benchmark (issue 3, "Must show"): what sending every read to the other side too,
# and comparing the two JSON answers field by field, costs the Ficus gateway.
#
#   (b) maximum requests/s, closed loop (wrk): Ficus with shadow_percent = 0 and = 100
#       (comparison on) beside nginx with its `mirror` directive to the same two backends
#       (nginx compares nothing). Target: Ficus with shadows >= 3x nginx mirror.
#   (a) at a fixed offered load of RATE_FRACTION (default half) of Ficus's no-shadow maximum
#       from (b), open loop (bench/backend's ficus-bench-load: latency from each request's due
#       time, no coordinated omission): client p50/p99 with shadow_percent = 100 beside 0.
#       Target: p99 no more than 10 % higher.
#
# The closed-loop part runs first because (a)'s rate is derived from it. Within each part the
# targets are interleaved round by round (the order alternates in (a)), so a noisy machine hurts
# every target alike. Shadow and comparison counters come from Ficus's /metrics, request and
# connection counts of each backend from its /_bench/stats, as deltas over each measured run.
#
# Usage: bash bench/shadow.sh          (see bench/README.md for the knobs below)
set -euo pipefail

# ---- knobs ---------------------------------------------------------------------------------
ROUNDS="${ROUNDS:-3}"                   # rounds of each part
DURATION="${DURATION:-10}"              # seconds measured per target per round
WARMUP="${WARMUP:-2}"                   # seconds of unmeasured load before each measured run
CONNECTIONS="${CONNECTIONS:-32}"        # wrk -c (closed loop) and generator connections (open loop)
THREADS="${THREADS:-2}"                 # wrk -t
LOAD_WORKERS="${LOAD_WORKERS:-1}"       # tokio worker threads of the open-loop generator
RATE_FRACTION="${RATE_FRACTION:-0.5}"   # (a)'s offered rate, as a share of the no-shadow maximum
RATE="${RATE:-}"                        # (a)'s offered rate in req/s; overrides RATE_FRACTION
BACKEND_WORKERS="${BACKEND_WORKERS:-1}" # tokio worker threads of each backend
NGINX_WORKERS="${NGINX_WORKERS:-auto}"  # nginx worker_processes ("auto" = one per core)
NOISE_PERCENT="${NOISE_PERCENT:-10}"    # [domains.bench.shadow] noise_percent (10 = Ficus default)
PARTS="${PARTS:-max fixed}"             # "max" = (b), "fixed" = (a); fixed alone needs RATE
MAX_TARGETS="${MAX_TARGETS:-ficus-s0 ficus-s100 nginx-mirror}"
REQUEST_PATH="${REQUEST_PATH:-/bench/1}"
SKIP_BUILD="${SKIP_BUILD:-0}"           # 1: use the binaries already in target/release
PIN_WORKERS="${PIN_WORKERS:-}"          # true|false: the plan's listener.pin_workers (empty: Ficus's default, true)
KEEP_TMP="${KEEP_TMP:-0}"               # 1: keep the temp dir (configs, logs, raw outputs)

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT_DIR="$ROOT/bench/out"

BENCH_NAME=shadow.sh
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

has_part() { [[ " $PARTS " == *" $1 "* ]]; }
has_max_target() { [[ " $MAX_TARGETS " == *" $1 "* ]]; }
for p in $PARTS; do
    case "$p" in max | fixed) ;; *) die "unknown part '$p' in PARTS (want max and/or fixed)" ;; esac
done
for t in $MAX_TARGETS; do
    case "$t" in ficus-s0 | ficus-s100 | nginx-mirror) ;;
        *) die "unknown target '$t' in MAX_TARGETS" ;;
    esac
done
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer"
[[ "$DURATION" =~ ^[1-9][0-9]*$ ]] || die "DURATION must be a positive integer (seconds)"
[[ "$WARMUP" =~ ^[0-9]+$ ]] || die "WARMUP must be a non-negative integer (seconds)"
if has_part fixed && [[ -z "$RATE" ]] && ! { has_part max && has_max_target ficus-s0; }; then
    die "part 'fixed' derives its rate from ficus-s0 in part 'max': include both, or set RATE"
fi

# ---- temp dir, processes, cleanup, tools -----------------------------------------------------
bench_start   # $TMP, and on exit: stop every process in PIDS (by PID), remove $TMP
NEED_NGINX=0
if has_part max && has_max_target nginx-mirror; then
    NEED_NGINX=1
    ensure_nginx
fi
ensure_wrk

# ---- build ----------------------------------------------------------------------------------
if [[ "$SKIP_BUILD" != 1 ]]; then
    log "building (release): ficus, ficus-bench-backend (backend + open-loop load generator)"
    cargo build --release -p ficus -p ficus-bench-backend
fi
BACKEND_BIN="$TARGET_DIR/release/ficus-bench-backend"
LOAD_BIN="$TARGET_DIR/release/ficus-bench-load"
FICUS_BIN="$TARGET_DIR/release/ficus"
for bin in "$BACKEND_BIN" "$LOAD_BIN" "$FICUS_BIN"; do
    [[ -x "$bin" ]] || die "missing $bin (run without SKIP_BUILD=1)"
done

# ---- ports ----------------------------------------------------------------------------------
LEGACY_PORT="$(free_port)"
NEW_PORT="$(free_port)"
NGINX_MIRROR_PORT="$(free_port)"
declare -A GW_PORT=() ADMIN_PORT=()
for v in s0 s100; do
    GW_PORT[$v]="$(free_port)"
    ADMIN_PORT[$v]="$(free_port)"
done

# ---- backends -------------------------------------------------------------------------------
# Both answer the same invoice-like JSON record: legacy compact (--body record, 1362 bytes), new
# with every object's keys in reverse order and spaces after separators (--body
# record-reordered). Equal as JSON, different as bytes: Ficus's comparer matches identical
# bytes without parsing, so this makes every comparison parse and walk both documents — and
# they must all match (the report warns otherwise).
check_json() { # name url file: one request must return 200 application/json with the file's bytes
    local name="$1" url="$2" want="$3" out size
    out="$(curl -s -o "$TMP/check.body" -w '%{http_code} %{content_type}' --max-time 5 "$url")" ||
        die "$name: request to $url failed"
    size="$(wc -c <"$TMP/check.body")"
    if [[ "$out" != "200 application/json"* ]] || ! cmp -s "$TMP/check.body" "$want"; then
        die "$name: $url answered '$out' with $size bytes, not the backend's JSON record"
    fi
}

declare -A BODY_KIND=([legacy]=record [new]=record-reordered)
for side in legacy new; do
    port_var="${side^^}_PORT"
    port="${!port_var}"
    log "$side backend on 127.0.0.1:$port ($BACKEND_WORKERS worker thread(s), --body ${BODY_KIND[$side]})"
    "$BACKEND_BIN" --listen "127.0.0.1:$port" --workers "$BACKEND_WORKERS" --body "${BODY_KIND[$side]}" \
        >"$TMP/backend-$side.log" 2>&1 &
    PIDS[backend-$side]=$!
    wait_http "backend-$side" "http://127.0.0.1:$port$REQUEST_PATH"
    curl -s -o "$TMP/record-$side.json" --max-time 5 "http://127.0.0.1:$port$REQUEST_PATH"
    [[ -s "$TMP/record-$side.json" ]] || die "backend-$side answered an empty body"
done
BODY_BYTES="$(wc -c <"$TMP/record-legacy.json")"
NEW_BODY_BYTES="$(wc -c <"$TMP/record-new.json")"

backend_stats() { # side: "requests connections" served so far
    curl -s --max-time 5 "http://127.0.0.1:$1/_bench/stats" |
        sed -E 's/.*"requests":([0-9]+),"connections":([0-9]+).*/\1 \2/'
}

# ---- nginx ----------------------------------------------------------------------------------
# nginx proxies to legacy over a keep-alive pool (as in gateway.sh) and mirrors every request
# to new with `mirror /mirror;` + `location = /mirror { internal; proxy_pass
# http://new$request_uri; }` (the configuration of issue 3). nginx sends the mirror subrequest
# beside the main one, lets the client connection take its next request only once the mirror
# has answered, throws the mirror's answer away and compares nothing. The mirror opens a new
# connection per mirrored request: nginx sends mirror subrequests "header only" and closes an
# upstream connection whose body it did not read, so even `keepalive` + `proxy_http_version
# 1.1` for the mirror upstream would not pool them (checked: the new backend then still accepts
# one connection per request, and nginx gets slower) — the report's "new conns" column shows it.
if ((NEED_NGINX)); then
    mkdir -p "$TMP/nginx"
    if ((EUID == 0)); then
        chmod 0755 "$TMP" # workers drop to 'nobody' and must reach their temp paths
    fi
    cat >"$TMP/nginx/nginx.conf" <<EOF
# Generated by bench/shadow.sh; self-contained: nothing from /etc/nginx is included.
worker_processes $NGINX_WORKERS;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx.log warn;

events {
    worker_connections 8192;
}

http {
    access_log off;
    client_body_temp_path $TMP/nginx/client_body;
    proxy_temp_path       $TMP/nginx/proxy;
    fastcgi_temp_path     $TMP/nginx/fastcgi;
    uwsgi_temp_path       $TMP/nginx/uwsgi;
    scgi_temp_path        $TMP/nginx/scgi;

    upstream legacy {
        server 127.0.0.1:$LEGACY_PORT;
        keepalive 64;
    }
    upstream new {
        server 127.0.0.1:$NEW_PORT;
    }

    server {
        listen 127.0.0.1:$NGINX_MIRROR_PORT;
        location / {
            mirror /mirror;
            proxy_pass http://legacy;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
        location = /mirror {
            internal;
            proxy_pass http://new\$request_uri;
        }
    }
}
EOF
    # -p/-e keep the prefix and the start-up error log inside the temp dir (never /var/log/nginx).
    "$NGINX" -t -q -p "$TMP/nginx/" -e "$TMP/nginx.log" -c "$TMP/nginx/nginx.conf" ||
        die "nginx rejected its config"
    log "nginx (mirror) on 127.0.0.1:$NGINX_MIRROR_PORT, worker_processes $NGINX_WORKERS"
    # shellcheck disable=SC2094 # nginx appends to the log it also gets stdout/stderr in: harmless
    "$NGINX" -p "$TMP/nginx/" -e "$TMP/nginx.log" -c "$TMP/nginx/nginx.conf" >>"$TMP/nginx.log" 2>&1 &
    PIDS[nginx]=$!
    wait_http nginx "http://127.0.0.1:$NGINX_MIRROR_PORT$REQUEST_PATH"
    check_json nginx "http://127.0.0.1:$NGINX_MIRROR_PORT$REQUEST_PATH" "$TMP/record-legacy.json"
    NGINX_WORKER_COUNT="$(pgrep -P "${PIDS[nginx]}" | wc -l)"
fi

# ---- ficus ----------------------------------------------------------------------------------
# One gateway per variant, each with its own plan, state file and ports, both running for the
# whole benchmark (an idle one costs nothing) so that the rounds can interleave without
# restarts. The plans differ only in shadow_percent. Phase `legacy` serves reads from legacy;
# `shadow.in_legacy = true` makes the domain shadow them to new, as it would in `dual-write`.
write_plan() { # variant percent
    local v="$1" pct="$2"
    cat >"$TMP/plan-$v.toml" <<EOF
# Generated by bench/shadow.sh: variant $v, shadow_percent = $pct.
[listener]
address = "127.0.0.1:${GW_PORT[$v]}"
${PIN_WORKERS:+pin_workers = $PIN_WORKERS}
[admin]
address = "127.0.0.1:${ADMIN_PORT[$v]}"
[state]
path = "$TMP/state-$v.db"
[upstreams.legacy]
url = "http://127.0.0.1:$LEGACY_PORT"
pool_max_idle = 64
[upstreams.new]
url = "http://127.0.0.1:$NEW_PORT"
pool_max_idle = 64
[domains.bench]
phase = "legacy"
shadow_percent = $pct
routes = [{ methods = ["GET"], path = "/bench/{id}" }]
[domains.bench.shadow]
in_legacy = true
noise_percent = $NOISE_PERCENT
EOF
    "$FICUS_BIN" validate -c "$TMP/plan-$v.toml" >"$TMP/validate-$v.log" 2>&1 ||
        die "ficus validate rejected $TMP/plan-$v.toml: $(cat "$TMP/validate-$v.log")"
}

declare -A FICUS_THREADS=()
for v in s0 s100; do
    write_plan "$v" "${v#s}"
    log "ficus-$v gateway on 127.0.0.1:${GW_PORT[$v]}, admin on 127.0.0.1:${ADMIN_PORT[$v]} (shadow_percent = ${v#s})"
    FICUS_ADMIN_TOKEN=bench-token "$FICUS_BIN" serve -c "$TMP/plan-$v.toml" >"$TMP/ficus-$v.log" 2>&1 &
    PIDS[ficus-$v]=$!
    wait_http "ficus-$v" "http://127.0.0.1:${ADMIN_PORT[$v]}/readyz"
    wait_http "ficus-$v" "http://127.0.0.1:${GW_PORT[$v]}$REQUEST_PATH"
    check_json "ficus-$v" "http://127.0.0.1:${GW_PORT[$v]}$REQUEST_PATH" "$TMP/record-legacy.json"
    FICUS_THREADS[$v]="$(find "/proc/${PIDS[ficus-$v]}/task" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)"
done

# "sent dropped timeout error match mismatch noise" for domain bench, from /metrics.
shadow_counters() { # variant
    curl -s --max-time 5 "http://127.0.0.1:${ADMIN_PORT[$1]}/metrics" | awk '
        /^ficus_shadow_requests_total\{/ && /domain="bench"/ {
            match($0, /outcome="[a-z]+"/); k = substr($0, RSTART + 9, RLENGTH - 10); v[k] = $NF }
        /^ficus_diff_comparisons_total\{/ && /domain="bench"/ {
            match($0, /result="[a-z]+"/); k = substr($0, RSTART + 8, RLENGTH - 9); v[k] = $NF }
        END { printf "%d %d %d %d %d %d %d\n", v["sent"], v["dropped"], v["timeout"], v["error"],
              v["match"], v["mismatch"], v["noise"] }'
}

# Shadows that were queued during a run finish within the shadow timeout (2 s); wait until the
# counters stop moving (at most 3 s) so that they are counted in the run that caused them.
settle() { # variant
    local before after i
    before="$(shadow_counters "$1")"
    for ((i = 0; i < 15; i++)); do
        sleep 0.2
        after="$(shadow_counters "$1")"
        [[ "$after" == "$before" ]] && return 0
        before="$after"
    done
}

# Counter snapshots around a measured run; deltas are stored per key "target:round".
declare -A SNAP_SHADOW=() SNAP_LEGACY=() SNAP_NEW=()
declare -A D_SHADOW=() D_LEGACY=() D_NEW=()
variant_of() { # target -> s0 | s100 | "" (nginx)
    case "$1" in ficus-s0 | s0) echo s0 ;; ficus-s100 | s100) echo s100 ;; *) echo "" ;; esac
}
snapshot() { # target (after its warm-up: let the warm-up's shadows finish first)
    local v
    v="$(variant_of "$1")"
    [[ -z "$v" ]] || settle "$v"
    SNAP_SHADOW[$1]="$([[ -n "$v" ]] && shadow_counters "$v" || echo "0 0 0 0 0 0 0")"
    SNAP_LEGACY[$1]="$(backend_stats "$LEGACY_PORT")"
    SNAP_NEW[$1]="$(backend_stats "$NEW_PORT")"
}
delta() { # "a b c" "x y z" -> "x-a y-b z-c"
    local -a a b
    read -r -a a <<<"$1"
    read -r -a b <<<"$2"
    local i out=()
    for ((i = 0; i < ${#a[@]}; i++)); do out+=($((b[i] - a[i]))); done
    echo "${out[*]}"
}
record_deltas() { # target key
    local target="$1" key="$2" v now_shadow
    v="$(variant_of "$target")"
    [[ -z "$v" ]] || settle "$v"
    now_shadow="$([[ -n "$v" ]] && shadow_counters "$v" || echo "0 0 0 0 0 0 0")"
    D_SHADOW[$key]="$(delta "${SNAP_SHADOW[$target]}" "$now_shadow")"
    D_LEGACY[$key]="$(delta "${SNAP_LEGACY[$target]}" "$(backend_stats "$LEGACY_PORT")")"
    D_NEW[$key]="$(delta "${SNAP_NEW[$target]}" "$(backend_stats "$NEW_PORT")")"
}

check_alive() {
    local name
    for name in "${!PIDS[@]}"; do
        kill -0 "${PIDS[$name]}" 2>/dev/null || die "$name exited during the run"
    done
}

shadow_summary() { # "sent dropped timeout error match mismatch noise" -> short text
    local s d t e m mm n
    read -r s d t e m mm n <<<"$1"
    printf 'shadows sent %d, dropped %d, timeout %d, error %d; compared: match %d, mismatch %d, noise %d' \
        "$s" "$d" "$t" "$e" "$m" "$mm" "$n"
}

# ---- part (b): closed loop, maximum requests/s ------------------------------------------------
url_for() {
    case "$1" in
        ficus-s0 | s0) echo "http://127.0.0.1:${GW_PORT[s0]}$REQUEST_PATH" ;;
        ficus-s100 | s100) echo "http://127.0.0.1:${GW_PORT[s100]}$REQUEST_PATH" ;;
        nginx-mirror) echo "http://127.0.0.1:$NGINX_MIRROR_PORT$REQUEST_PATH" ;;
    esac
}

declare -A RPS=() P50=() P99=() ERRS=()   # key: target:round
run_max() { # target round
    local target="$1" round="$2" url out parsed rps p50 p99 errs non2xx key="$1:$2"
    url="$(url_for "$target")"
    if ((WARMUP > 0)); then
        "$WRK" -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" "$url" >/dev/null 2>&1 ||
            die "wrk warm-up against $target failed"
    fi
    snapshot "$target"
    out="$("$WRK" -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$url" 2>&1)" ||
        die "wrk against $target failed: $out"
    record_deltas "$target" "$key"
    printf '%s\n' "$out" >"$TMP/wrk-$target-$round.txt"
    parsed="$(parse_wrk <<<"$out")" || die "could not parse wrk output for $target:\n$out"
    read -r rps p50 p99 _ errs non2xx <<<"$parsed"
    RPS[$key]=$rps
    P50[$key]=$p50
    P99[$key]=$p99
    ERRS[$key]=$((errs + non2xx))
    log "$(printf 'max   round %d  %-16s %9.0f req/s  p50 %7.3f ms  p99 %7.3f ms  errors %d' \
        "$round" "$target" "$rps" "$p50" "$p99" "$((errs + non2xx))")"
    log "      backend requests legacy $(cut -d' ' -f1 <<<"${D_LEGACY[$key]}"), new $(cut -d' ' -f1 <<<"${D_NEW[$key]}"); connections accepted by new $(cut -d' ' -f2 <<<"${D_NEW[$key]}")"
    if [[ "$target" == ficus-* ]]; then
        log "      $(shadow_summary "${D_SHADOW[$key]}")"
    fi
    check_alive
}

# ---- part (a): open loop at a fixed rate ----------------------------------------------------
declare -A A_OUT=()   # key: variant:round -> the generator's key=value line
run_fixed() { # variant round
    local v="$1" round="$2" key="$1:$2" out
    snapshot "$v"
    # The generator's warm-up is part of the same schedule; the snapshot is taken before it, so
    # deltas cover warm-up + measured requests (the report scales by requests sent).
    out="$("$LOAD_BIN" --url "$(url_for "$v")" --rate "$RATE" --duration "$DURATION" \
        --warmup "$WARMUP" --connections "$CONNECTIONS" --workers "$LOAD_WORKERS" \
        2>"$TMP/load-$v-$round.log")" || die "load generator against ficus-$v failed: $(cat "$TMP/load-$v-$round.log")"
    record_deltas "$v" "a:$key"
    A_OUT[$key]="$out"
    log "$(printf 'fixed round %d  shadow %-4s %s' "$round" "${v#s}" "$(field "$out" achieved_rps) req/s  p50 $(field "$out" p50_ms) ms  p99 $(field "$out" p99_ms) ms  p99.9 $(field "$out" p999_ms) ms  send delay p99 $(field "$out" send_delay_p99_ms) ms  errors $(($(field "$out" errors) + $(field "$out" non_2xx)))")"
    if [[ "$v" == s100 ]]; then
        log "      $(shadow_summary "${D_SHADOW[a:$key]}")"
    fi
    check_alive
}
field() { # "k=v k=v" key -> value
    local kv
    for kv in $1; do
        if [[ "${kv%%=*}" == "$2" ]]; then
            echo "${kv#*=}"
            return 0
        fi
    done
    echo 0
}

# ---- measuring ------------------------------------------------------------------------------
STARTED_AT="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
LOADAVG_START="$(cut -d' ' -f1-3 /proc/loadavg)"

declare -A M_RPS=() M_P50=() M_P99=() T_ERRS=()
if has_part max; then
    log "part (b), max req/s: $ROUNDS round(s) of ($MAX_TARGETS), ${WARMUP}s warm-up + ${DURATION}s each, wrk -t$THREADS -c$CONNECTIONS"
    for ((round = 1; round <= ROUNDS; round++)); do
        for target in $MAX_TARGETS; do
            run_max "$target" "$round"
        done
    done
    for target in $MAX_TARGETS; do
        r=() a=() b=()
        e=0
        for ((round = 1; round <= ROUNDS; round++)); do
            r+=("${RPS[$target:$round]}")
            a+=("${P50[$target:$round]}")
            b+=("${P99[$target:$round]}")
            e=$((e + ${ERRS[$target:$round]}))
        done
        M_RPS[$target]="$(median "${r[@]}")"
        M_P50[$target]="$(median "${a[@]}")"
        M_P99[$target]="$(median "${b[@]}")"
        T_ERRS[$target]=$e
    done
fi

declare -A A_P50=() A_P90=() A_P99=() A_P999=() A_ACH=() A_SD99=() A_ERRS=()
if has_part fixed; then
    RATE_SOURCE="set by RATE"
    if [[ -z "$RATE" ]]; then
        RATE="$(calc "${M_RPS[ficus-s0]} * $RATE_FRACTION")"
        RATE_SOURCE="$RATE_FRACTION x ficus shadow-0 max ${M_RPS[ficus-s0]} req/s"
    fi
    log "part (a), fixed rate $RATE req/s ($RATE_SOURCE): $ROUNDS round(s) of (s0, s100) alternating, ${WARMUP}s warm-up + ${DURATION}s each, open loop over $CONNECTIONS connections"
    for ((round = 1; round <= ROUNDS; round++)); do
        if ((round % 2)); then order="s0 s100"; else order="s100 s0"; fi
        for v in $order; do
            run_fixed "$v" "$round"
        done
    done
    for v in s0 s100; do
        a=() n=() b=() c=() h=() sd=()
        e=0
        for ((round = 1; round <= ROUNDS; round++)); do
            line="${A_OUT[$v:$round]}"
            a+=("$(field "$line" p50_ms)")
            n+=("$(field "$line" p90_ms)")
            b+=("$(field "$line" p99_ms)")
            c+=("$(field "$line" p999_ms)")
            h+=("$(field "$line" achieved_rps)")
            sd+=("$(field "$line" send_delay_p99_ms)")
            e=$((e + $(field "$line" errors) + $(field "$line" non_2xx)))
        done
        A_P50[$v]="$(median "${a[@]}")"
        A_P90[$v]="$(median "${n[@]}")"
        A_P99[$v]="$(median "${b[@]}")"
        A_P999[$v]="$(median "${c[@]}")"
        A_ACH[$v]="$(median "${h[@]}")"
        A_SD99[$v]="$(median "${sd[@]}")"
        A_ERRS[$v]=$e
    done
fi
LOADAVG_END="$(cut -d' ' -f1-3 /proc/loadavg)"

# ---- report ---------------------------------------------------------------------------------
sum_deltas() { # prefix(target or a:variant) -> element-wise sum over the rounds of D_SHADOW
    local prefix="$1" round total="0 0 0 0 0 0 0"
    local -a x y
    for ((round = 1; round <= ROUNDS; round++)); do
        read -r -a x <<<"$total"
        read -r -a y <<<"${D_SHADOW[$prefix:$round]}"
        local i out=()
        for ((i = 0; i < 7; i++)); do out+=($((x[i] + y[i]))); done
        total="${out[*]}"
    done
    echo "$total"
}
sum_backend() { # which(D_LEGACY|D_NEW) prefix field(1 requests|2 connections)
    local -n map="$1"
    local prefix="$2" f="$3" round t=0
    for ((round = 1; round <= ROUNDS; round++)); do
        t=$((t + $(cut -d' ' -f"$f" <<<"${map[$prefix:$round]}")))
    done
    echo "$t"
}
dropped_share() { # "sent dropped timeout error ..." -> dropped / all shadows, in %
    local s d t e
    read -r s d t e _ <<<"$1"
    if ((s + d + t + e == 0)); then echo "-"; else calc "100 * $d / ($s + $d + $t + $e)"; fi
}
label() {
    case "$1" in
        ficus-s0 | s0) echo "ficus shadow 0 %" ;;
        ficus-s100 | s100) echo "ficus shadow 100 %" ;;
        nginx-mirror) echo "nginx mirror" ;;
    esac
}
verdict() { [[ "$1" == true ]] && echo met || echo "NOT met"; }

echo
echo "Shadow-read benchmark — the same JSON record from both backends (legacy ${BODY_BYTES} bytes compact, new ${NEW_BODY_BYTES} bytes reordered), $ROUNDS round(s) x ${DURATION}s (after ${WARMUP}s warm-up), median per metric"
echo "Machine: $(nproc) cores, load avg $LOADAVG_START -> $LOADAVG_END; backends $BACKEND_WORKERS worker thread(s) each; ficus ${FICUS_THREADS[s0]}/${FICUS_THREADS[s100]} threads (s0/s100)${NGINX_WORKER_COUNT:+; nginx $NGINX_WORKER_COUNT workers}; noise_percent $NOISE_PERCENT"

JSON_MAX=""
JSON_FIXED=""
JSON_RATIOS=""
if has_part max; then
    echo
    echo "(b) Maximum requests/s, closed loop (wrk -t$THREADS -c$CONNECTIONS)"
    printf '%-18s %10s %9s %9s %7s %12s %12s %10s %9s %9s %9s\n' target "req/s" "p50 ms" "p99 ms" errors \
        "legacy req" "new req" "new conns" "shadows" "dropped%" compared
    printf '%-18s %10s %9s %9s %7s %12s %12s %10s %9s %9s %9s\n' ------------------ ---------- --------- \
        --------- ------- ------------ ------------ ---------- --------- --------- ---------
    for target in $MAX_TARGETS; do
        sh="$(sum_deltas "$target")"
        read -r s d t e m mm n <<<"$sh"
        printf '%-18s %10.0f %9.3f %9.3f %7d %12d %12d %10d %9s %9s %9s\n' "$(label "$target")" \
            "${M_RPS[$target]}" "${M_P50[$target]}" "${M_P99[$target]}" "${T_ERRS[$target]}" \
            "$(sum_backend D_LEGACY "$target" 1)" "$(sum_backend D_NEW "$target" 1)" \
            "$(sum_backend D_NEW "$target" 2)" \
            "$([[ $target == ficus-* ]] && echo "$((s + d + t + e))" || echo -)" \
            "$([[ $target == ficus-* ]] && dropped_share "$sh" || echo -)" \
            "$([[ $target == ficus-* ]] && echo "$((m + mm + n))" || echo -)"
        rounds_json=""
        for ((round = 1; round <= ROUNDS; round++)); do
            k="$target:$round"
            read -r s d t e m mm n <<<"${D_SHADOW[$k]}"
            rounds_json+="$( ((round == 1)) || printf ', ')"
            rounds_json+="$(printf '{"rps": %s, "p50_ms": %s, "p99_ms": %s, "errors": %d, "legacy_requests": %d, "new_requests": %d, "new_connections": %d, "shadow": {"sent": %d, "dropped": %d, "timeout": %d, "error": %d}, "comparisons": {"match": %d, "mismatch": %d, "noise": %d}}' \
                "${RPS[$k]}" "${P50[$k]}" "${P99[$k]}" "${ERRS[$k]}" \
                "$(cut -d' ' -f1 <<<"${D_LEGACY[$k]}")" "$(cut -d' ' -f1 <<<"${D_NEW[$k]}")" \
                "$(cut -d' ' -f2 <<<"${D_NEW[$k]}")" "$s" "$d" "$t" "$e" "$m" "$mm" "$n")"
        done
        JSON_MAX+="$([[ -z "$JSON_MAX" ]] || printf ',\n')"
        JSON_MAX+="$(printf '    "%s": {"median": {"rps": %s, "p50_ms": %s, "p99_ms": %s}, "rounds": [%s]}' \
            "$target" "${M_RPS[$target]}" "${M_P50[$target]}" "${M_P99[$target]}" "$rounds_json")"
    done
    echo "  (backend columns: requests and accepted connections at each backend during the measured runs, all rounds;"
    echo "   shadows = sent+dropped+timeout+error from ficus_shadow_requests_total, compared = ficus_diff_comparisons_total)"
    echo "Per round (req/s):"
    for target in $MAX_TARGETS; do
        line="$(printf '  %-18s' "$(label "$target")")"
        for ((round = 1; round <= ROUNDS; round++)); do
            line+="$(printf ' %9.0f' "${RPS[$target:$round]}")"
        done
        echo "$line"
    done
fi

if has_part fixed; then
    echo
    echo "(a) Fixed offered load: $RATE req/s ($RATE_SOURCE), open loop over $CONNECTIONS connections, latency from due time"
    printf '%-18s %10s %9s %9s %9s %9s %11s %7s %9s %9s %9s\n' variant "req/s" "p50 ms" "p90 ms" "p99 ms" \
        "p99.9 ms" "sendlag p99" errors shadows "dropped%" compared
    printf '%-18s %10s %9s %9s %9s %9s %11s %7s %9s %9s %9s\n' ------------------ ---------- --------- \
        --------- --------- --------- ----------- ------- --------- --------- ---------
    for v in s0 s100; do
        sh="$(sum_deltas "a:$v")"
        read -r s d t e m mm n <<<"$sh"
        printf '%-18s %10.0f %9.3f %9.3f %9.3f %9.3f %11.3f %7d %9d %9s %9d\n' "$(label "$v")" \
            "${A_ACH[$v]}" "${A_P50[$v]}" "${A_P90[$v]}" "${A_P99[$v]}" "${A_P999[$v]}" "${A_SD99[$v]}" \
            "${A_ERRS[$v]}" "$((s + d + t + e))" "$(dropped_share "$sh")" "$((m + mm + n))"
        rounds_json=""
        for ((round = 1; round <= ROUNDS; round++)); do
            k="$v:$round"
            line="${A_OUT[$k]}"
            read -r s d t e m mm n <<<"${D_SHADOW[a:$k]}"
            rounds_json+="$( ((round == 1)) || printf ', ')"
            rounds_json+="{$(for kv in $line; do printf '"%s": %s, ' "${kv%%=*}" "${kv#*=}"; done)"
            rounds_json+="$(printf '"shadow": {"sent": %d, "dropped": %d, "timeout": %d, "error": %d}, "comparisons": {"match": %d, "mismatch": %d, "noise": %d}}' \
                "$s" "$d" "$t" "$e" "$m" "$mm" "$n")"
        done
        JSON_FIXED+="$([[ -z "$JSON_FIXED" ]] || printf ',\n')"
        JSON_FIXED+="$(printf '    "%s": {"median": {"achieved_rps": %s, "p50_ms": %s, "p90_ms": %s, "p99_ms": %s, "p999_ms": %s, "send_delay_p99_ms": %s}, "rounds": [%s]}' \
            "$v" "${A_ACH[$v]}" "${A_P50[$v]}" "${A_P90[$v]}" "${A_P99[$v]}" "${A_P999[$v]}" "${A_SD99[$v]}" "$rounds_json")"
    done
    echo "  (shadow counters include the warm-up requests; sendlag = delay between a request's due time and its send,"
    echo "   large values mean the target or the generator fell behind the offered rate)"
    behind=""
    for ((round = 1; round <= ROUNDS; round++)); do
        for v in s0 s100; do
            line="${A_OUT[$v:$round]}"
            if awk "BEGIN { exit !($(field "$line" achieved_rps) < 0.97 * $RATE || $(field "$line" send_delay_p50_ms) > 1) }"; then
                behind+=" shadow-${v#s}/round-$round"
            fi
        done
    done
    if [[ -n "$behind" ]]; then
        echo "  WARNING: fell behind the offered rate (answered < 97 % of it, or half the requests waited > 1 ms for a"
        echo "  free connection) in:$behind — overloaded there: its latencies are mostly queueing behind the schedule."
    fi
    echo "Per round (p99 ms, shadow 0 / shadow 100 / ratio):"
    for ((round = 1; round <= ROUNDS; round++)); do
        b0="$(field "${A_OUT[s0:$round]}" p99_ms)"
        b1="$(field "${A_OUT[s100:$round]}" p99_ms)"
        printf '  round %d  %8.3f / %8.3f / %6.3f\n' "$round" "$b0" "$b1" "$(calc "$b1 / $b0")"
    done
fi

echo
echo "Ratios:"
if has_part fixed; then
    p99_ratio="$(calc "${A_P99[s100]} / ${A_P99[s0]}")"
    p50_ratio="$(calc "${A_P50[s100]} / ${A_P50[s0]}")"
    p99_ok="$(awk "BEGIN { print ($p99_ratio <= 1.10) ? \"true\" : \"false\" }")"
    printf '  (a) p99 shadow 100 / p99 shadow 0          = %s   (target <= 1.100: %s)\n' "$p99_ratio" "$(verdict "$p99_ok")"
    printf '      p50 shadow 100 / p50 shadow 0          = %s\n' "$p50_ratio"
    if has_part max && has_max_target ficus-s100; then
        printf '      offered load / ficus shadow 100 max    = %s   (information: how close (a) runs to saturation with shadows)\n' \
            "$(calc "$RATE / ${M_RPS[ficus-s100]}")"
    fi
    printf '      shadows dropped at the fixed load      = %s %%\n' "$(dropped_share "$(sum_deltas a:s100)")"
    JSON_RATIOS+="\"p99_s100_over_s0\": $p99_ratio, \"p50_s100_over_s0\": $p50_ratio, \"p99_target_met\": $p99_ok"
fi
if has_part max && has_max_target ficus-s100 && has_max_target nginx-mirror; then
    rps_ratio="$(calc "${M_RPS[ficus-s100]} / ${M_RPS[nginx-mirror]}")"
    rps_ok="$(awk "BEGIN { print ($rps_ratio >= 3.0) ? \"true\" : \"false\" }")"
    printf '  (b) ficus shadow 100 req/s / nginx mirror  = %s   (target >= 3.000: %s)\n' "$rps_ratio" "$(verdict "$rps_ok")"
    JSON_RATIOS+="${JSON_RATIOS:+, }\"ficus_s100_rps_over_nginx_mirror\": $rps_ratio, \"rps_target_met\": $rps_ok"
fi
if has_part max && has_max_target ficus-s100 && has_max_target ficus-s0; then
    cost_ratio="$(calc "${M_RPS[ficus-s100]} / ${M_RPS[ficus-s0]}")"
    printf '      ficus shadow 100 / ficus shadow 0      = %s   (information: throughput kept with every read shadowed)\n' "$cost_ratio"
    JSON_RATIOS+="${JSON_RATIOS:+, }\"ficus_s100_rps_over_s0\": $cost_ratio"
fi
if has_part max && has_max_target ficus-s100; then
    sh="$(sum_deltas ficus-s100)"
    printf '      shadows dropped at max load            = %s %% of %d   (dropping is the designed overload behaviour)\n' \
        "$(dropped_share "$sh")" "$(awk '{ print $1 + $2 + $3 + $4 }' <<<"$sh")"
fi

not_matched=0
for key in "${!D_SHADOW[@]}"; do
    read -r _ _ _ _ _ mm n <<<"${D_SHADOW[$key]}"
    not_matched=$((not_matched + mm + n))
done
if ((not_matched > 0)); then
    echo
    echo "WARNING: $not_matched comparison(s) did not match although both backends answer the same record."
fi

# ---- JSON -----------------------------------------------------------------------------------
mkdir -p "$OUT_DIR"
JSON_OUT="$OUT_DIR/shadow-$STAMP.json"
{
    printf '{\n'
    printf '  "started_at": "%s",\n' "$STARTED_AT"
    printf '  "config": {"rounds": %d, "duration_s": %d, "warmup_s": %d, "connections": %d, "wrk_threads": %d, "load_workers": %d, "rate_fraction": %s, "rate": %s, "backend_workers": %d, "nginx_worker_processes": "%s", "nginx_workers_running": %s, "ficus_threads": {"s0": %s, "s100": %s}, "noise_percent": %s, "path": "%s", "body_bytes": {"legacy": %d, "new": %d}, "parts": "%s", "max_targets": "%s"},\n' \
        "$ROUNDS" "$DURATION" "$WARMUP" "$CONNECTIONS" "$THREADS" "$LOAD_WORKERS" "$RATE_FRACTION" \
        "${RATE:-null}" "$BACKEND_WORKERS" "$NGINX_WORKERS" "${NGINX_WORKER_COUNT:-null}" \
        "${FICUS_THREADS[s0]}" "${FICUS_THREADS[s100]}" "$NOISE_PERCENT" "$REQUEST_PATH" "$BODY_BYTES" "$NEW_BODY_BYTES" \
        "$PARTS" "$MAX_TARGETS"
    printf '  "machine": {"cores": %d, "cpu": "%s", "kernel": "%s", "loadavg_start": "%s", "loadavg_end": "%s", "nginx": "%s", "wrk": "%s"},\n' \
        "$(nproc)" "$(cpu_model)" "$(uname -r)" "$LOADAVG_START" "$LOADAVG_END" \
        "$(if [[ -n "${NGINX:-}" ]]; then "$NGINX" -v 2>&1 | sed 's/.*: //'; fi)" \
        "$("$WRK" -v 2>&1 | head -n1 | awk '{ print $2 }')"
    printf '  "ratios": {%s},\n' "$JSON_RATIOS"
    printf '  "max": {\n%s\n  },\n' "$JSON_MAX"
    printf '  "fixed": {\n%s\n  }\n' "$JSON_FIXED"
    printf '}\n'
} >"$JSON_OUT"
echo
echo "JSON: ${JSON_OUT#"$ROOT"/}"
