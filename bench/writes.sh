#!/usr/bin/env bash
# Write benchmark: requests/s and p50/p99 latency of POST writes (small JSON body, 201 answer)
# through `ficus serve` with the domain in phase `legacy` (nothing queued) beside phase
# `dual-write` (every accepted write appended to the embedded write queue — SQLite, group
# commit — before the answer, then replayed on `new` by the relay), same backends, interleaved
# round by round so that a noisy machine hurts both variants alike.
#
# Usage: bash bench/writes.sh          (see bench/README.md for the knobs below)
set -euo pipefail

# ---- knobs ---------------------------------------------------------------------------------
ROUNDS="${ROUNDS:-3}"                   # rounds of (legacy, dual-write)
DURATION="${DURATION:-10}"              # seconds measured per variant per round
WARMUP="${WARMUP:-2}"                   # seconds of unmeasured load before each measured run
CONNECTIONS="${CONNECTIONS:-32}"        # wrk -c
THREADS="${THREADS:-2}"                 # wrk -t
BACKEND_WORKERS="${BACKEND_WORKERS:-1}" # tokio worker threads of each backend (legacy, new)
VARIANTS="${VARIANTS:-legacy dual-write}"
DRAIN_TIMEOUT="${DRAIN_TIMEOUT:-300}"   # seconds to wait for the relay to empty the queue
SKIP_BUILD="${SKIP_BUILD:-0}"           # 1: use the binaries already in target/release
PIN_WORKERS="${PIN_WORKERS:-}"          # true|false: the plan's listener.pin_workers (empty: Ficus's default, true)
KEEP_TMP="${KEEP_TMP:-0}"               # 1: keep the temp dir (plans, stores, logs) for inspection

REQUEST_PATH="/bench/items"
REQUEST_BODY='{"name":"ficus-bench","quantity":1,"note":"write benchmark"}'
DOMAIN=bench

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT_DIR="$ROOT/bench/out"

BENCH_NAME=writes.sh
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"   # log, die, bench_init/cleanup, apt_install, free_port, wait_http, parse_wrk, median, calc

for v in $VARIANTS; do
    case "$v" in legacy | dual-write) ;; *) die "unknown variant '$v' in VARIANTS" ;; esac
done
[[ " $VARIANTS " == *" legacy "* && " $VARIANTS " == *" dual-write "* ]] ||
    die "VARIANTS must include both 'legacy' and 'dual-write' (the figures are ratios of the two)"
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer"

# ---- temp dir, processes, cleanup -----------------------------------------------------------
# The state stores live here: mktemp honours TMPDIR. The write queue's durability cost is an
# fsync per group commit, which a tmpfs would hide, so say what the store sits on.
bench_init ficus-writes-bench
STORE_FS="$(findmnt -n -o FSTYPE -T "$TMP" 2>/dev/null || stat -f -c %T "$TMP")"
STORE_DEV="$(findmnt -n -o SOURCE -T "$TMP" 2>/dev/null || echo '?')"
if [[ "$STORE_FS" == tmpfs || "$STORE_FS" == ramfs ]]; then
    log "warning: the state store is on $STORE_FS ($TMP): fsync is free there, so dual-write looks cheaper than on a disk; set TMPDIR to a directory on disk"
fi

# ---- tools ----------------------------------------------------------------------------------
if ! command -v wrk >/dev/null; then
    log "installing wrk"
    apt_install wrk
fi
command -v curl >/dev/null || apt_install curl
WRK="$(command -v wrk)"

# ---- build ----------------------------------------------------------------------------------
if [[ "$SKIP_BUILD" != 1 ]]; then
    log "building (release): ficus, ficus-bench-backend"
    cargo build --release -p ficus -p ficus-bench-backend
fi
BACKEND_BIN="$TARGET_DIR/release/ficus-bench-backend"
FICUS_BIN="$TARGET_DIR/release/ficus"
[[ -x "$BACKEND_BIN" ]] || die "missing $BACKEND_BIN"
[[ -x "$FICUS_BIN" ]] || die "missing $FICUS_BIN"

# ---- backends -------------------------------------------------------------------------------
# Two backends, one per side, shared by both variants: `legacy` answers the clients, `new`
# receives the relay's replays (dual-write only).
declare -A BACKEND_PORT=()
for side in legacy new; do
    BACKEND_PORT[$side]="$(free_port)" && mark_port "${BACKEND_PORT[$side]}"
    log "backend-$side on 127.0.0.1:${BACKEND_PORT[$side]} ($BACKEND_WORKERS worker thread(s))"
    "$BACKEND_BIN" --listen "127.0.0.1:${BACKEND_PORT[$side]}" --workers "$BACKEND_WORKERS" \
        >"$TMP/backend-$side.log" 2>&1 &
    PIDS[backend-$side]=$!
    wait_http "backend-$side" "http://127.0.0.1:${BACKEND_PORT[$side]}/"
done

check_write() { # name url: one POST must be answered 201 with {"id":N}
    local name="$1" url="$2" out body
    out="$(curl -s -o "$TMP/check.body" -w '%{http_code}' --max-time 5 -X POST \
        -H 'content-type: application/json' --data "$REQUEST_BODY" "$url")" ||
        die "$name: POST $url failed"
    body="$(cat "$TMP/check.body")"
    [[ "$out" == 201 && "$body" =~ ^\{\"id\":[0-9]+\}$ ]] ||
        die "$name: POST $url answered $out '$body' (want 201 {\"id\":N})"
}
check_write backend-legacy "http://127.0.0.1:${BACKEND_PORT[legacy]}$REQUEST_PATH"

# ---- ficus, one instance per variant --------------------------------------------------------
# Two `ficus serve` processes with the same plan but the domain's phase, each with its own
# state store (the store keeps the live phase, so a fresh store per variant starts it in the
# plan's phase). Only one is loaded at a time; the other is idle.
declare -A GATEWAY_PORT=() ADMIN_PORT=() FICUS_THREADS=()
for v in $VARIANTS; do
    GATEWAY_PORT[$v]="$(free_port)" && mark_port "${GATEWAY_PORT[$v]}"
    ADMIN_PORT[$v]="$(free_port)" && mark_port "${ADMIN_PORT[$v]}"
    mkdir -p "$TMP/$v"
    cat >"$TMP/$v/plan.toml" <<EOF
# Generated by bench/writes.sh (variant $v).
[listener]
address = "127.0.0.1:${GATEWAY_PORT[$v]}"
${PIN_WORKERS:+pin_workers = $PIN_WORKERS}
[admin]
address = "127.0.0.1:${ADMIN_PORT[$v]}"
[state]
path = "$TMP/$v/state.db"
[write_queue]
backend = "embedded"
concurrency = ${RELAY_CONCURRENCY:-16}
[upstreams.legacy]
url = "http://127.0.0.1:${BACKEND_PORT[legacy]}"
pool_max_idle = 64
[upstreams.new]
url = "http://127.0.0.1:${BACKEND_PORT[new]}"
pool_max_idle = 64
[domains.$DOMAIN]
phase = "$v"
sync = "replay"
# id_pointer: each created item's id (from legacy's answer) is its entity, so the relay may
# deliver different items concurrently (writes of one entity are delivered in order).
routes = [{ methods = ["POST"], path = "$REQUEST_PATH", id_pointer = "/id" }]
EOF
    "$FICUS_BIN" validate -c "$TMP/$v/plan.toml" >"$TMP/validate-$v.log" 2>&1 ||
        die "ficus validate rejected the $v plan: $(cat "$TMP/validate-$v.log")"
    log "ficus ($v) gateway on 127.0.0.1:${GATEWAY_PORT[$v]}, admin on 127.0.0.1:${ADMIN_PORT[$v]}"
    FICUS_ADMIN_TOKEN=bench-token "$FICUS_BIN" serve -c "$TMP/$v/plan.toml" >"$TMP/ficus-$v.log" 2>&1 &
    PIDS[ficus-$v]=$!
    wait_http "ficus-$v" "http://127.0.0.1:${ADMIN_PORT[$v]}/readyz"
    FICUS_THREADS[$v]="$(find "/proc/${PIDS[ficus-$v]}/task" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)"
done

# ---- queue metrics --------------------------------------------------------------------------
metrics() { # variant: the admin listener's /metrics
    curl -sf --max-time 5 "http://127.0.0.1:${ADMIN_PORT[$1]}/metrics" ||
        die "ficus ($1): GET /metrics failed"
}
metric() { # name labels-regex <<< metrics text: the value, 0 when absent
    awk -v name="$1" -v labels="$2" '
        index($0, name "{") == 1 && $1 ~ labels { v = $2; found = 1 }
        END { printf "%s", found ? v : 0 }'
}
# "queued failed depth succeeded replay_failed dead_lettered dead_letters" of the bench domain.
queue_state() { # variant
    local m d="domain=\"$DOMAIN\""
    m="$(metrics "$1")"
    printf '%s %s %s %s %s %s %s\n' \
        "$(metric ficus_write_queue_appends_total "$d,outcome=\"queued\"" <<<"$m")" \
        "$(metric ficus_write_queue_appends_total "$d,outcome=\"failed\"" <<<"$m")" \
        "$(metric ficus_write_queue_depth "$d" <<<"$m")" \
        "$(metric ficus_writes_replayed_total "$d,outcome=\"succeeded\"" <<<"$m")" \
        "$(metric ficus_writes_replayed_total "$d,outcome=\"failed\"" <<<"$m")" \
        "$(metric ficus_writes_replayed_total "$d,outcome=\"dead_lettered\"" <<<"$m")" \
        "$(metric ficus_write_dead_letters "$d" <<<"$m")"
}
wait_drained() { # variant: wait until the queue depth is 0; prints the seconds it took
    local v="$1" start now depth q f succ rf dl dead
    start="$(date +%s.%N)"
    while :; do
        read -r q f depth succ rf dl dead <<<"$(queue_state "$v")"
        now="$(date +%s.%N)"
        [[ "$depth" == 0 ]] && break
        kill -0 "${PIDS[ficus-$v]}" 2>/dev/null || die "ficus ($v) exited while draining"
        if awk "BEGIN { exit !($now - $start > $DRAIN_TIMEOUT) }"; then
            die "ficus ($v): write queue still holds $depth write(s) after ${DRAIN_TIMEOUT}s (replayed ok $succ, failed attempts $rf, dead $dead)"
        fi
        sleep 0.2
    done
    calc "$now - $start"
}

# One write through each variant before measuring: 201 from legacy, and in dual-write the write
# must be queued and replayed (fail fast rather than measure a setup that does not queue).
for v in $VARIANTS; do
    check_write "ficus-$v" "http://127.0.0.1:${GATEWAY_PORT[$v]}$REQUEST_PATH"
    if [[ "$v" == dual-write ]]; then
        wait_drained "$v" >/dev/null
        read -r q f depth succ rf dl dead <<<"$(queue_state "$v")"
        [[ "$q" -ge 1 && "$succ" -ge 1 && "$dead" == 0 ]] ||
            die "ficus (dual-write): the check write was not queued and replayed (queued $q, replayed ok $succ, dead letters $dead)"
    fi
done

# ---- measuring ------------------------------------------------------------------------------
cat >"$TMP/post.lua" <<EOF
-- Generated by bench/writes.sh: every request is the same small JSON create.
wrk.method = "POST"
wrk.body = '$REQUEST_BODY'
wrk.headers["Content-Type"] = "application/json"
EOF

declare -A RPS=() P50=() P99=() ERRS=() NON2XX=() REQS=() DRAIN_S=() DEPTH_END=()   # key: variant:round
declare -A SENT=()   # variant -> 2xx writes wrk counted (warm-ups and measured runs)
for v in $VARIANTS; do SENT[$v]=1; done   # the check write
run_wrk() { # variant seconds: wrk output
    "$WRK" -t"$THREADS" -c"$CONNECTIONS" -d"${2}s" --latency -s "$TMP/post.lua" \
        "http://127.0.0.1:${GATEWAY_PORT[$1]}$REQUEST_PATH" 2>&1
}
count_ok() { # variant parsed-line: add the 2xx answers of one wrk run to SENT
    local rps p50 p99 reqs errs non2xx
    read -r rps p50 p99 reqs errs non2xx <<<"$2"
    SENT[$1]=$((SENT[$1] + reqs - non2xx))
}
run_one() { # variant round
    local v="$1" round="$2" out parsed
    if ((WARMUP > 0)); then
        out="$(run_wrk "$v" "$WARMUP")" || die "wrk warm-up against ficus ($v) failed: $out"
        parsed="$(parse_wrk <<<"$out")" || die "could not parse wrk warm-up output for $v:\n$out"
        count_ok "$v" "$parsed"
    fi
    out="$(run_wrk "$v" "$DURATION")" || die "wrk against ficus ($v) failed: $out"
    printf '%s\n' "$out" >"$TMP/wrk-$v-$round.txt"
    parsed="$(parse_wrk <<<"$out")" || die "could not parse wrk output for $v:\n$out"
    count_ok "$v" "$parsed"
    local rps p50 p99 reqs errs non2xx
    read -r rps p50 p99 reqs errs non2xx <<<"$parsed"
    RPS[$v:$round]=$rps
    P50[$v:$round]=$p50
    P99[$v:$round]=$p99
    REQS[$v:$round]=$reqs
    ERRS[$v:$round]=$errs
    NON2XX[$v:$round]=$non2xx
    local extra=""
    # Whatever the relay has not delivered yet is drained before the next run, so replays of
    # this run do not load the next one (legacy's queue stays empty: wait_drained returns at once).
    local q f depth succ rf dl dead
    read -r q f depth succ rf dl dead <<<"$(queue_state "$v")"
    DEPTH_END[$v:$round]=$depth
    DRAIN_S[$v:$round]="$(wait_drained "$v")"
    if [[ "$v" == dual-write ]]; then
        extra="$(printf '  queue depth at end %d, drained in %.1f s' "$depth" "${DRAIN_S[$v:$round]}")"
    fi
    log "$(printf 'round %d  %-10s  %8.0f req/s  p50 %7.3f ms  p99 %7.3f ms  socket errors %d  non-2xx %d' \
        "$round" "$v" "$rps" "$p50" "$p99" "$errs" "$non2xx")$extra"
    kill -0 "${PIDS[ficus-$v]}" 2>/dev/null || die "ficus ($v) exited during the run"
    local side
    for side in legacy new; do
        kill -0 "${PIDS[backend-$side]}" 2>/dev/null || die "backend-$side exited during the run"
    done
}

STARTED_AT="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
LOADAVG_START="$(cut -d' ' -f1-3 /proc/loadavg)"
log "measuring: $ROUNDS round(s) of ($VARIANTS), ${WARMUP}s warm-up + ${DURATION}s each, wrk -t$THREADS -c$CONNECTIONS, POST $REQUEST_PATH (${#REQUEST_BODY}-byte JSON)"
for ((round = 1; round <= ROUNDS; round++)); do
    # Alternate the order every round, so neither variant always runs right after the other's
    # load (or right after the dual-write drain).
    order="$VARIANTS"
    if ((round % 2 == 0)); then
        order="$(tr -s ' ' '\n' <<<"$VARIANTS" | tac | tr '\n' ' ')"
    fi
    for v in $order; do
        run_one "$v" "$round"
    done
done
LOADAVG_END="$(cut -d' ' -f1-3 /proc/loadavg)"

# ---- queue proof ----------------------------------------------------------------------------
declare -A Q=()
for v in $VARIANTS; do
    read -r q f depth succ rf dl dead <<<"$(queue_state "$v")"
    Q[$v:queued]=$q; Q[$v:failed]=$f; Q[$v:depth]=$depth; Q[$v:succeeded]=$succ
    Q[$v:replay_failed]=$rf; Q[$v:dead_lettered]=$dl; Q[$v:dead]=$dead
done

# How many writes backend `new` received (the relay's deliveries, every attempt): its ids are a
# counter from 1, so one more POST straight to it answers with that number + 1.
NEW_RECEIVED="$(curl -s --max-time 5 -X POST -H 'content-type: application/json' --data "$REQUEST_BODY" \
    "http://127.0.0.1:${BACKEND_PORT[new]}$REQUEST_PATH" | sed -n 's/^{"id":\([0-9]*\)}$/\1/p')"
NEW_RECEIVED=$((${NEW_RECEIVED:-0} - 1))

# ---- report ---------------------------------------------------------------------------------
declare -A M_RPS=() M_P50=() M_P99=() TOTAL_ERRS=()
for v in $VARIANTS; do
    r=() a=() b=()
    e=0
    for ((round = 1; round <= ROUNDS; round++)); do
        r+=("${RPS[$v:$round]}")
        a+=("${P50[$v:$round]}")
        b+=("${P99[$v:$round]}")
        e=$((e + ${ERRS[$v:$round]} + ${NON2XX[$v:$round]}))
    done
    M_RPS[$v]="$(median "${r[@]}")"
    M_P50[$v]="$(median "${a[@]}")"
    M_P99[$v]="$(median "${b[@]}")"
    TOTAL_ERRS[$v]=$e
done

rps_ratio="$(calc "${M_RPS[dual-write]} / ${M_RPS[legacy]}")"
p99_added="$(calc "${M_P99[dual-write]} - ${M_P99[legacy]}")"
throughput_ok="$(awk "BEGIN { print ($rps_ratio >= 0.8) ? \"true\" : \"false\" }")"
latency_ok="$(awk "BEGIN { print ($p99_added <= 2.0) ? \"true\" : \"false\" }")"
queue_ok=false
if [[ "${Q[dual-write:depth]}" == 0 && "${Q[dual-write:failed]}" == 0 && "${Q[dual-write:dead]}" == 0 &&
    "${Q[dual-write:queued]}" -ge "${SENT[dual-write]}" && "${Q[dual-write:succeeded]}" -ge "${Q[dual-write:queued]}" &&
    "${Q[legacy:queued]}" == 0 ]]; then
    queue_ok=true
fi
met() { [[ $1 == true ]] && echo met || echo NOT met; }

echo
echo "Write benchmark — POST ${#REQUEST_BODY}-byte JSON → 201 {\"id\":N}, wrk -t$THREADS -c$CONNECTIONS, $ROUNDS rounds x ${DURATION}s (after ${WARMUP}s warm-up), median per metric"
echo "Machine: $(nproc) cores, load avg $LOADAVG_START -> $LOADAVG_END; backends $BACKEND_WORKERS worker thread(s) each; ficus ${FICUS_THREADS[legacy]}/${FICUS_THREADS[dual-write]} threads (legacy/dual-write); state store on $STORE_FS ($STORE_DEV)"
echo
printf '%-10s %10s %10s %10s %8s\n' variant "req/s" "p50 ms" "p99 ms" errors
printf '%-10s %10s %10s %10s %8s\n' ---------- ---------- ---------- ---------- --------
for v in legacy dual-write; do
    printf '%-10s %10.0f %10.3f %10.3f %8d\n' "$v" "${M_RPS[$v]}" "${M_P50[$v]}" "${M_P99[$v]}" "${TOTAL_ERRS[$v]}"
done
echo
echo "Per round (req/s / p99 ms):"
for v in legacy dual-write; do
    line="$(printf '  %-10s' "$v")"
    for ((round = 1; round <= ROUNDS; round++)); do
        line+="$(printf '  %8.0f / %7.3f' "${RPS[$v:$round]}" "${P99[$v:$round]}")"
    done
    echo "$line"
done
echo
echo "Ratios:"
printf '  dual-write req/s / legacy req/s = %s   (target >= 0.800: %s)\n' "$rps_ratio" "$(met "$throughput_ok")"
printf '  dual-write p99 - legacy p99     = %s ms   (target <= 2.000 ms: %s)\n' "$p99_added" "$(met "$latency_ok")"
echo
echo "Write queue (dual-write instance, /metrics on its admin listener, after the last drain):"
printf '  writes answered 2xx (wrk, incl. warm-ups and the check write) = %d\n' "${SENT[dual-write]}"
printf '  ficus_write_queue_appends_total{outcome="queued"}             = %d   (failed: %d)\n' \
    "${Q[dual-write:queued]}" "${Q[dual-write:failed]}"
printf '  ficus_writes_replayed_total{outcome="succeeded"}              = %d   (failed attempts: %d, dead-lettered: %d)\n' \
    "${Q[dual-write:succeeded]}" "${Q[dual-write:replay_failed]}" "${Q[dual-write:dead_lettered]}"
printf '  ficus_write_queue_depth                                       = %d   (dead letters: %d)\n' \
    "${Q[dual-write:depth]}" "${Q[dual-write:dead]}"
line="  per round: depth when wrk stopped / seconds to drain:"
for ((round = 1; round <= ROUNDS; round++)); do
    line+="$(printf '  %d / %.1f s' "${DEPTH_END[dual-write:$round]}" "${DRAIN_S[dual-write:$round]}")"
done
echo "$line"
printf '  backend new received (its id counter)                        = %d' "$NEW_RECEIVED"
dw_queued="${Q[dual-write:queued]}"
if ((NEW_RECEIVED > dw_queued)); then
    printf '   (%d more than queued: some writes were delivered more than once —\n' \
        "$((NEW_RECEIVED - dw_queued))"
    printf '   at-least-once delivery; harmless for a secondary that honours Idempotency-Key)\n'
else
    printf '\n'
fi
printf '  legacy instance: queued %d, depth %d (nothing is queued in legacy)\n' "${Q[legacy:queued]}" "${Q[legacy:depth]}"
printf '  every answered write queued, replayed and drained: %s\n' "$([[ $queue_ok == true ]] && echo yes || echo NO)"
echo "  (queued may exceed the answered count by the requests in flight when wrk stopped: ficus answered them, wrk did not count them)"

# ---- JSON -----------------------------------------------------------------------------------
mkdir -p "$OUT_DIR"
JSON_OUT="$OUT_DIR/writes-$STAMP.json"
{
    printf '{\n'
    printf '  "started_at": "%s",\n' "$STARTED_AT"
    printf '  "config": {"rounds": %d, "duration_s": %d, "warmup_s": %d, "connections": %d, "wrk_threads": %d, "backend_workers": %d, "ficus_threads": {"legacy": %s, "dual-write": %s}, "path": "%s", "body_bytes": %d, "store_fs": "%s"},\n' \
        "$ROUNDS" "$DURATION" "$WARMUP" "$CONNECTIONS" "$THREADS" "$BACKEND_WORKERS" \
        "${FICUS_THREADS[legacy]}" "${FICUS_THREADS[dual-write]}" "$REQUEST_PATH" "${#REQUEST_BODY}" "$STORE_FS"
    printf '  "machine": {"cores": %d, "cpu": "%s", "kernel": "%s", "loadavg_start": "%s", "loadavg_end": "%s", "wrk": "%s"},\n' \
        "$(nproc)" "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo | tr -d '"\\')" "$(uname -r)" \
        "$LOADAVG_START" "$LOADAVG_END" "$("$WRK" -v 2>&1 | head -n1 | awk '{ print $2 }')"
    printf '  "ratios": {"dual_write_rps_over_legacy_rps": %s, "dual_write_added_p99_ms": %s, "throughput_target_met": %s, "added_p99_target_met": %s},\n' \
        "$rps_ratio" "$p99_added" "$throughput_ok" "$latency_ok"
    printf '  "write_queue": {"answered_2xx": %d, "queued": %d, "append_failed": %d, "replayed_succeeded": %d, "replay_failed_attempts": %d, "dead_lettered": %d, "depth_after_drain": %d, "dead_letters": %d, "legacy_queued": %d, "new_backend_received": %d, "all_queued_and_drained": %s},\n' \
        "${SENT[dual-write]}" "${Q[dual-write:queued]}" "${Q[dual-write:failed]}" "${Q[dual-write:succeeded]}" \
        "${Q[dual-write:replay_failed]}" "${Q[dual-write:dead_lettered]}" "${Q[dual-write:depth]}" "${Q[dual-write:dead]}" \
        "${Q[legacy:queued]}" "$NEW_RECEIVED" "$queue_ok"
    printf '  "variants": {\n'
    first=1
    for v in legacy dual-write; do
        ((first)) || printf ',\n'
        first=0
        rounds_json=""
        for ((round = 1; round <= ROUNDS; round++)); do
            rounds_json+="$( ((round == 1)) || printf ', ')"
            rounds_json+="$(printf '{"rps": %s, "p50_ms": %s, "p99_ms": %s, "requests": %d, "socket_errors": %d, "non_2xx": %d, "queue_depth_at_end": %d, "drain_s": %s}' \
                "${RPS[$v:$round]}" "${P50[$v:$round]}" "${P99[$v:$round]}" "${REQS[$v:$round]}" \
                "${ERRS[$v:$round]}" "${NON2XX[$v:$round]}" "${DEPTH_END[$v:$round]}" "${DRAIN_S[$v:$round]}")"
        done
        printf '    "%s": {"median": {"rps": %s, "p50_ms": %s, "p99_ms": %s}, "rounds": [%s]}' \
            "$v" "${M_RPS[$v]}" "${M_P50[$v]}" "${M_P99[$v]}" "$rounds_json"
    done
    printf '\n  }\n}\n'
} >"$JSON_OUT"
echo
echo "JSON: ${JSON_OUT#"$ROOT"/}"
