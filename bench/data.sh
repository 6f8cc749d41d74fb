#!/usr/bin/env bash
# Data engine benchmark: one generated table of ROWS rows (default 1,000,000) in MariaDB, with
# NULLs, decimals, timestamps and emoji in text, copied to PostgreSQL by pgloader, by a plain
# `mariadb --batch | psql COPY` pipe and by `ficus backfill`; then, with 100 planted
# differences, compared by reladiff and by `ficus verify`. See bench/README.md.
#
# Needs the MariaDB and PostgreSQL of this machine (MYSQL / PG below). Installs pgloader with
# apt-get and reladiff into a venv under target/ if missing. Stops only what it started; drops
# the database and schema it created.
set -euo pipefail

ROWS=${ROWS:-1000000}
ROUNDS=${ROUNDS:-1}
MY_HOST=${MY_HOST:-127.0.0.1}
MY_PORT=${MY_PORT:-3306}
MY_USER=${MY_USER:-root}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/test}
# Rows per backfill chunk: a bulk copy's size (pgloader batches 25,000 rows). Each chunk costs
# five round trips to PostgreSQL, each a wait for a core on a busy machine: on the bench's 1 M
# rows, 5,000 (ficus's default, gentler on a live source) 1.6 s, 10,000 1.4 s, 20,000 1.2 s.
CHUNK_ROWS=${CHUNK_ROWS:-20000}
WORKERS=${WORKERS:-4}
# reladiff over every column, its MySQL connection switched to utf8mb4 (bench/reladiff_utf8mb4.py:
# as shipped it reads 4-byte characters as '?' and takes minutes); 0 skips that run.
RELADIFF_ALL_COLUMNS=${RELADIFF_ALL_COLUMNS:-1}
# all: copies and compares; verify: only the compares (one untimed ficus backfill fills the target).
ONLY=${ONLY:-all}
# Path to another ficus binary (e.g. a build of an older commit) whose verify is timed too.
VERIFY_BASE=${VERIFY_BASE:-}

repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${VENV:-$repo/target/bench-venv}
tag=$(printf '%06x' $((RANDOM * 32768 + RANDOM)))
mydb="ficus_bench_$tag"
pgs="ficus_bench_$tag"
my_url="mysql://$MY_USER@$MY_HOST:$MY_PORT/$mydb"
tmp=$(mktemp -d)
results="$repo/target/bench-data-$(date +%Y%m%d-%H%M%S).txt"

my() { mariadb -h "$MY_HOST" -P "$MY_PORT" -u "$MY_USER" --default-character-set=utf8mb4 "$@"; }
pg() { psql "$PG_URL" -v ON_ERROR_STOP=1 -q -X "$@"; }
log() { printf '%s\n' "$*" | tee -a "$results" >&2; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
rate() { awk -v n="$ROWS" -v s="$1" 'BEGIN { printf "%.0f", n / s }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

cleanup() {
  my -e "DROP DATABASE IF EXISTS $mydb" 2>/dev/null || true
  pg -c "DROP SCHEMA IF EXISTS $pgs CASCADE" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# --- tools -----------------------------------------------------------------------------------
if [ "$ONLY" = all ] && ! command -v pgloader >/dev/null; then
  log "installing pgloader (apt-get)"
  sudo_=; [ "$(id -u)" = 0 ] || sudo_=sudo
  $sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -q pgloader >/dev/null ||
    { $sudo_ apt-get update -q >/dev/null && $sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -q pgloader >/dev/null; }
fi
if [ ! -x "$venv/bin/reladiff" ]; then
  log "installing reladiff from PyPI into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "reladiff[postgresql,mysql]"
fi
(cd "$repo" && cargo build -q --release -p ficus -j2)
ficus="$repo/target/release/ficus"

log "data bench $(date -u +%FT%TZ): $ROWS rows, $ROUNDS round(s), chunk_rows=$CHUNK_ROWS workers=$WORKERS; $(nproc) cores"
log "pgloader: $(pgloader --version 2>/dev/null | sed -n 1p); reladiff: $("$venv/bin/reladiff" --version)"

# --- source: ROWS rows with NULLs, decimals, microsecond timestamps, emoji ---------------------
my -e "CREATE DATABASE $mydb CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
my "$mydb" <<SQL
CREATE TABLE bench_rows (
  id BIGINT NOT NULL PRIMARY KEY,
  name VARCHAR(100) NULL,
  amount DECIMAL(12,4) NULL,
  created DATETIME(6) NULL,
  qty INT NOT NULL,
  note TEXT NULL
) ENGINE=InnoDB;
INSERT INTO bench_rows
SELECT seq,
       CASE WHEN seq % 10 = 3 THEN NULL WHEN seq % 10 = 4 THEN ''
            WHEN seq % 5 = 0 THEN CONCAT('café ', seq, ' 😀🚀') ELSE CONCAT('name ', seq) END,
       IF(seq % 7 = 0, NULL, (seq % 100000) * 1.2345),
       IF(seq % 11 = 0, NULL, TIMESTAMP'2024-01-01 00:00:00' + INTERVAL seq SECOND + INTERVAL (seq * 7919) % 1000000 MICROSECOND),
       seq % 1000,
       IF(seq % 3 = 0, NULL, CONCAT('note ', MD5(seq)))
FROM seq_1_to_$ROWS;
SQL
log "source ready: $(my -N "$mydb" -e 'SELECT COUNT(*) FROM bench_rows') rows"

# --- targets ---------------------------------------------------------------------------------
cols="id bigint NOT NULL PRIMARY KEY, name varchar(100), amount numeric(12,4), created timestamp(6), qty integer NOT NULL, note text"
pg -c "CREATE SCHEMA $pgs" \
   -c "CREATE TABLE $pgs.t_idx ($cols)" -c "CREATE INDEX ON $pgs.t_idx (created)" -c "CREATE INDEX ON $pgs.t_idx (name)" \
   -c "CREATE TABLE $pgs.bench_rows ($cols)"

plan() { # $1 = target table
  cat >"$tmp/ficus.toml" <<TOML
[upstreams]
legacy = { url = "http://127.0.0.1:1" }
new = { url = "http://127.0.0.1:2" }
[domains.bench]
routes = [{ path = "/bench" }]
[domains.bench.data]
source = "$my_url"
target = "$PG_URL"
chunk_rows = $CHUNK_ROWS
workers = $WORKERS
[[domains.bench.data.tables]]
source = "bench_rows"
target = "$pgs.$1"
key = ["id"]
TOML
}
reset() { pg -c "TRUNCATE $pgs.$1" -c "DELETE FROM $pgs.ficus_checkpoint" 2>/dev/null || pg -c "TRUNCATE $pgs.$1"; pg -c "CHECKPOINT"; }
count() { pg -tA -c "SELECT count(*) FROM $pgs.$1"; }

run_pipe() { # into t_idx
  reset t_idx
  local t0; t0=$(now)
  my --batch --skip-column-names --quick "$mydb" -e "SELECT id, name, amount, created, qty, note FROM bench_rows ORDER BY id" |
    pg -c "COPY $pgs.t_idx FROM STDIN WITH (FORMAT text, NULL 'NULL')"
  local s; s=$(secs "$t0" "$(now)")
  [ "$(count t_idx)" = "$ROWS" ] || { log "pipe copied $(count t_idx) rows"; exit 1; }
  echo "$s"
}
run_ficus() { # $1 = target table
  reset "$1"; plan "$1"
  local t0; t0=$(now)
  "$ficus" backfill bench -c "$tmp/ficus.toml" >"$tmp/ficus.out"
  local s; s=$(secs "$t0" "$(now)")
  [ "$(count "$1")" = "$ROWS" ] || { log "ficus copied $(count "$1") rows"; exit 1; }
  echo "$s"
}
run_pgloader() { # into bench_rows (no secondary index)
  reset bench_rows
  cat >"$tmp/load" <<LOAD
LOAD DATABASE FROM mysql://$MY_USER@$MY_HOST:$MY_PORT/$mydb INTO $PG_URL
WITH data only, truncate
INCLUDING ONLY TABLE NAMES MATCHING 'bench_rows'
ALTER SCHEMA '$mydb' RENAME TO '$pgs';
LOAD
  local t0; t0=$(now)
  pgloader --quiet "$tmp/load" >"$tmp/pgloader.out" 2>&1 || { cat "$tmp/pgloader.out" >&2; exit 1; }
  local s; s=$(secs "$t0" "$(now)")
  [ "$(count bench_rows)" = "$ROWS" ] || { cat "$tmp/pgloader.out" >&2; log "pgloader copied $(count bench_rows) rows"; exit 1; }
  echo "$s"
}

# --- copy: interleaved rounds ------------------------------------------------------------------
: >"$tmp/pipe"; : >"$tmp/ficus_idx"; : >"$tmp/pgloader"; : >"$tmp/ficus_noidx"
if [ "$ONLY" = verify ]; then
  log "ONLY=verify: copies not timed; one ficus backfill into bench_rows"
  run_ficus bench_rows >/dev/null
  ROUNDS_COPY=0
else
  ROUNDS_COPY=$ROUNDS
fi
for r in $(seq 1 "$ROUNDS_COPY"); do
  a=$(run_pipe); b=$(run_ficus t_idx); c=$(run_pgloader); d=$(run_ficus bench_rows)
  log "round $r: pipe ${a}s, ficus(same target) ${b}s, pgloader ${c}s, ficus(no secondary index) ${d}s"
  echo "$a" >>"$tmp/pipe"; echo "$b" >>"$tmp/ficus_idx"; echo "$c" >>"$tmp/pgloader"; echo "$d" >>"$tmp/ficus_noidx"
done
if [ "$ROUNDS_COPY" -gt 0 ]; then
  pipe=$(median <"$tmp/pipe"); fi_idx=$(median <"$tmp/ficus_idx"); pgl=$(median <"$tmp/pgloader"); fi_no=$(median <"$tmp/ficus_noidx")
fi

# --- verify: 100 planted differences in the last ficus copy (bench_rows) ----------------------
# 25 missing, 25 extra, 50 changed (15 names, 15 amounts at the 4th decimal, 10 timestamps by one
# microsecond, 10 quantities), on rows whose changed column is not NULL; counted as written.
planted=$(pg -tA <<SQL
WITH m AS (DELETE FROM $pgs.bench_rows WHERE id IN (SELECT 1000 + g * 9973 FROM generate_series(1, 25) g) RETURNING 1),
     e AS (INSERT INTO $pgs.bench_rows SELECT $ROWS + g, 'ghost', 1, '2030-01-01', 1, 'ghost' FROM generate_series(1, 25) g RETURNING 1),
     n AS (UPDATE $pgs.bench_rows SET name = name || '!' WHERE id IN (SELECT id FROM $pgs.bench_rows WHERE id % 10 IN (1, 2) AND id > 2000 ORDER BY id LIMIT 15) RETURNING 1),
     a AS (UPDATE $pgs.bench_rows SET amount = amount + 0.0001 WHERE id IN (SELECT id FROM $pgs.bench_rows WHERE id % 7 <> 0 AND id % 10 = 6 AND id > 300000 ORDER BY id LIMIT 15) RETURNING 1),
     c AS (UPDATE $pgs.bench_rows SET created = created + interval '1 microsecond' WHERE id IN (SELECT id FROM $pgs.bench_rows WHERE id % 11 <> 0 AND id % 10 = 7 AND id > 600000 ORDER BY id LIMIT 10) RETURNING 1),
     q AS (UPDATE $pgs.bench_rows SET qty = qty + 1 WHERE id IN (SELECT id FROM $pgs.bench_rows WHERE id % 10 = 8 AND id > 900000 ORDER BY id LIMIT 10) RETURNING 1)
SELECT (SELECT count(*) FROM m) + (SELECT count(*) FROM e) + (SELECT count(*) FROM n) + (SELECT count(*) FROM a) + (SELECT count(*) FROM c) + (SELECT count(*) FROM q);
SQL
)
log "planted $planted differences (25 missing, 25 extra, 50 changed)"

# reladiff prints one line per side of a differing row: `- KEY, v1, v2…` / `+ KEY, …`.
reladiff_run() { # $1 = reladiff command (quoted words), then column options; prints "seconds rows"
  local cmd=$1 t0 s; shift; t0=$(now)
  $cmd "mysql://$MY_USER@$MY_HOST:$MY_PORT/$mydb" bench_rows "${PG_URL/#postgres:/postgresql:}" "$pgs.bench_rows" \
    -k id "$@" -j 2 >"$tmp/reladiff.out" 2>"$tmp/reladiff.err" || true
  s=$(secs "$t0" "$(now)")
  if grep -q ERROR "$tmp/reladiff.err"; then grep ERROR "$tmp/reladiff.err" | head -3 | tee -a "$results" >&2; fi
  echo "$s $( { grep -E '^[-+] ' "$tmp/reladiff.out" || true; } | sed -E 's/^[-+] ([^,]+),.*/\1/' | sort -u | wc -l)"
}

: >"$tmp/reladiff"; : >"$tmp/reladiff_noname"; : >"$tmp/verify"
for r in $(seq 1 "$ROUNDS"); do
  if [ "$RELADIFF_ALL_COLUMNS" = 1 ]; then
    read -r rd rd_found < <(reladiff_run "$venv/bin/python $repo/bench/reladiff_utf8mb4.py" -c name -c amount -c created -c qty -c note)
  else
    rd=999999 rd_found=skipped
  fi
  read -r rn rn_found < <(reladiff_run "$venv/bin/reladiff" -c amount -c created -c qty -c note)
  t0=$(now)
  "$ficus" verify bench -c "$tmp/ficus.toml" --recheck-delay 0s --no-store -o json >"$tmp/verify.json" || [ $? = 3 ]
  vf=$(secs "$t0" "$(now)")
  vf_found=$(python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(sum(len(t['differences']) for t in r['tables']))" "$tmp/verify.json")
  log "round $r: reladiff all columns (utf8mb4) ${rd}s ($rd_found rows differ), reladiff without name ${rn}s ($rn_found rows differ), ficus verify ${vf}s ($vf_found rows differ)"
  echo "$rd" >>"$tmp/reladiff"; echo "$rn" >>"$tmp/reladiff_noname"; echo "$vf" >>"$tmp/verify"
  if [ -n "$VERIFY_BASE" ]; then
    t0=$(now)
    "$VERIFY_BASE" verify bench -c "$tmp/ficus.toml" --recheck-delay 0s --no-store -o json >"$tmp/verify_base.json" || [ $? = 3 ]
    vb=$(secs "$t0" "$(now)")
    vb_found=$(python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(sum(len(t['differences']) for t in r['tables']))" "$tmp/verify_base.json")
    log "round $r: ficus verify of VERIFY_BASE ${vb}s ($vb_found rows differ)"
    echo "$vb" >>"$tmp/verify_base"
  fi
done
rd=$(median <"$tmp/reladiff"); rn=$(median <"$tmp/reladiff_noname"); vf=$(median <"$tmp/verify")
fastest_rd=$(awk -v a="$rd" -v b="$rn" 'BEGIN { print (a < b ? a : b) }')

# --- report ----------------------------------------------------------------------------------
log ""
if [ "$ROUNDS_COPY" -gt 0 ]; then
log "copy of $ROWS rows (median of $ROUNDS):"
log "  pipe (mariadb --batch | psql COPY), target with 2 secondary indexes: ${pipe}s, $(rate "$pipe") rows/s"
log "  ficus backfill, same target:                                    ${fi_idx}s, $(rate "$fi_idx") rows/s = $(ratio "$pipe" "$fi_idx") x pipe (target >= 0.80)"
log "  pgloader, target without secondary indexes:                     ${pgl}s, $(rate "$pgl") rows/s"
log "  ficus backfill, same target as pgloader:                        ${fi_no}s, $(rate "$fi_no") rows/s = $(ratio "$pgl" "$fi_no") x pgloader (target >= 2)"
fi
log "compare with $planted planted differences (median of $ROUNDS):"
log "  reladiff, all columns, its MySQL connection in utf8mb4: ${rd}s, found $rd_found"
log "  reladiff, without the emoji column: ${rn}s, found $rn_found (name differences invisible)"
log "  ficus verify (--recheck-delay 0s): ${vf}s, found $vf_found = $(ratio "$fastest_rd" "$vf") x faster than the faster reladiff run (target >= 4, exactly $planted found)"
[ "$RELADIFF_ALL_COLUMNS" = 1 ] && log "    and $(ratio "$rd" "$vf") x faster than reladiff doing the same comparison (all columns, utf8mb4)"
if [ -n "$VERIFY_BASE" ]; then
  vb=$(median <"$tmp/verify_base")
  log "  ficus verify of VERIFY_BASE:     ${vb}s = $(ratio "$fastest_rd" "$vb") x faster than the faster reladiff run; this build $(ratio "$vb" "$vf") x faster than it"
fi
log "results saved in $results"
