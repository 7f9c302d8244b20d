#!/usr/bin/env bash
# bench/run.sh: tokenjar's benchmark (issue 6). `make bench` runs it after `make build` has
# built ./tokenjar with the embedded dashboard. It prints one table: metric, target, measured,
# result (PASS/FAIL/INFO), and for the ingest rows the ratio against a bare Fiber v2 handler
# measured in the same run. docs/benchmarks.md explains every row and keeps the latest table.
#
# What it does, in order (all traffic goes to 127.0.0.1, every load is bounded in time):
#   1. installs wrk from Debian's packages if it is missing (apt-get; needs root);
#   2. builds bench/runner and bench/barefiber with `go build` into bench/out/bin;
#   3. seeds BENCH_DATA with `tokenjar demo --data DIR --events N --seed 1`, timed, unless the
#      folder already has a demo.json (then the dataset is reused and seeding is skipped);
#   4. footprint: the binary's size; three starts on the existing database, each timed from
#      exec to the first 200 from GET /api/v1/healthz (the worst is reported); idle RSS
#      (VmRSS, once the server has used no CPU for 2 s, then 5 s more);
#   5. the dashboard: aggregates, first pages and deep pages (bench/runner dashboard);
#   6. the CSV export of the member with the most events, with the server's RSS sampled;
#   7. stops the server and copies the database, so that the writes below never change the
#      dataset a rerun measures (BENCH_INGEST_COPY=0 writes into BENCH_DATA instead);
#   8. on the copy: the exactness check (1,000 concurrent reports against one wallet and one
#      allowance), then wrk against the bare Fiber baseline and against POST /api/v1/usage with
#      bench/ingest.lua, then a check that every 201 is a stored event;
#   8b. with BENCH_BASELINE_BIN: the export and the ingest again with that build, on a fresh copy;
#   8c. the AI gateway (issue 19): a fake OpenAI-compatible provider (`runner fakeai`) and a fresh
#      tokenjar on its own small data folder, set up through the API (`runner gateway`): added
#      latency and throughput at BENCH_GW_CONNS concurrent plain requests, direct vs through
#      tokenjar; added time to first streamed byte; BENCH_GW_SLOW concurrent slow streams with the
#      server's RSS; `tokenjar check` on that folder; then the same plain and TTFB runs with a free
#      provider (no hold, no charge), for information;
#   9. `tokenjar check` (the ledger invariant) on the copy, and the table.
#
# BENCH_DATABASE=postgres runs the same phases on PostgreSQL (issue 21) instead of the SQLite file:
#   - a cluster of its own in BENCH_DATA/pg (scripts/pg-test-cluster.sh start the first time, then
#     pg_ctl start on the same folder, so a seeded dataset is reused), tuned for the bench only with
#     ALTER SYSTEM (BENCH_PG_SETTINGS; fsync and synchronous_commit stay on), stopped at exit and kept
#     (BENCH_PG_KEEP=0 removes it);
#   - seeding with `tokenjar demo --database URL --events N` into database "tokenjar", then
#     VACUUM ANALYZE (autovacuum may not have analyzed the new rows yet);
#   - every server runs `tokenjar serve --database URL` with a fresh --data folder of its own;
#   - step 7 copies the database with CREATE DATABASE ... TEMPLATE, so the writes never change it;
#   - step 8 adds an ingest run with THREE replicas on the copy, wrk's threads spread over them
#     (bench/ingest.lua, BENCH_REPLICAS): one histogram, so its p99 is the p99 of all requests;
#   - the gateway phase (8c) is skipped: it measures the proxy, not the engine.
#   Every row's metric then starts with "postgres: ".
#
# BENCH_ONLY=seed runs steps 1-3 only: makes (or finds) the dataset and stops.
# BENCH_ONLY=gateway runs steps 1, 2 and 8c only (no dataset is made or needed):
#   BENCH_ONLY=gateway BENCH_DURATION=10 bench/run.sh
#
# Knobs (environment):
#   BENCH_EVENTS     events to seed (default 10000000)
#   BENCH_DATA       data folder (default bench/out/data-$BENCH_EVENTS), reused when it has demo.json
#   BENCH_DURATION   seconds of each wrk run and of each side of the gateway's plain load (default 20)
#   BENCH_CONNS      wrk connections (default 64)
#   BENCH_THREADS    wrk threads (default 2, the machine's cores)
#   BENCH_REPS       timed runs of each dashboard query after one warm-up (default 5)
#   BENCH_INGEST_COPY  1 (default): exactness and ingest write into a copy of the database
#   BENCH_KEEP_COPY  0 (default): the copy is removed after the run; 1 keeps it
#   BENCH_CHECK      1 (default): run `tokenjar check` on the copy afterwards
#   BENCH_GATEWAY    1 (default): run the gateway phase (8c); 0 skips it
#   BENCH_ONLY       "gateway": only the gateway phase (and the build), for development;
#                    "seed": only the dataset
#   BENCH_PG_FROM    (PostgreSQL) seed with `tokenjar migrate` from a COPY of this SQLite dataset
#                    folder (it needs demo.json) instead of `tokenjar demo`
#   BENCH_MIGRATE_BIN  the binary that runs that migrate (default TOKENJAR_BIN)
#   BENCH_GW_CONNS   concurrent plain gateway requests (default 64)
#   BENCH_GW_SLOW    concurrent slow streams (default 500); BENCH_GW_SLOW_SECONDS long each (default 10)
#   BENCH_GW_FREE    1 (default): also the free-provider pass (INFO rows); 0 skips it
#   BENCH_DATABASE   sqlite (default) or postgres
#   BENCH_PG_SETTINGS  name=value ... set with ALTER SYSTEM on the bench cluster (default below)
#   BENCH_PG_KEEP    1 (default): the cluster (BENCH_DATA/pg) is stopped and kept; 0 removes it
#   BENCH_REPLICAS_INGEST  1 (default, PostgreSQL only): the ingest run with three replicas
#   TOKENJAR_BIN     the binary (default ./tokenjar; built with `make build` if missing)
#   BENCH_BASELINE_BIN  another build (say, the last release) whose export and ingest are measured
#                    in the same run, on fresh copies of the same dataset, right after this one's;
#                    its rows are named "baseline: ..."
#
# If this tokenjar's `demo` has no --events flag, the script seeds through the HTTP API instead
# (`runner seedapi`: same counts of members, apps and models, one year (the backfill window of POST /usage), but slower and shaped by
# bench/runner/seedapi.go) and says so in the table.
#
# Output: bench/out/run-TIMESTAMP/ holds results.jsonl, table.txt, table.md, every wrk
# output and the server logs.
set -euo pipefail
cd "$(dirname "$0")/.."

EVENTS=${BENCH_EVENTS:-10000000}
ENGINE=${BENCH_DATABASE:-sqlite}
case $ENGINE in
sqlite) DATA=${BENCH_DATA:-bench/out/data-$EVENTS} ;;
postgres) DATA=${BENCH_DATA:-bench/out/data-pg-$EVENTS} ;;
*) echo "BENCH_DATABASE=$ENGINE: sqlite or postgres" >&2; exit 2 ;;
esac
# The bench cluster's tuning (ALTER SYSTEM; fsync and synchronous_commit stay on: durability is the
# product). The last three log every statement slower than 25 ms with its plan in BENCH_DATA/pg/postgres.log.
PG_SETTINGS=${BENCH_PG_SETTINGS:-shared_buffers=1GB effective_cache_size=8GB work_mem=32MB maintenance_work_mem=512MB max_wal_size=4GB random_page_cost=1.1 session_preload_libraries=auto_explain auto_explain.log_min_duration=25 auto_explain.log_analyze=off}
DURATION=${BENCH_DURATION:-20}
CONNS=${BENCH_CONNS:-64}
THREADS=${BENCH_THREADS:-2}
REPS=${BENCH_REPS:-5}
INGEST_COPY=${BENCH_INGEST_COPY:-1}
CHECK=${BENCH_CHECK:-1}
BIN=${TOKENJAR_BIN:-./tokenjar}
GATEWAY=${BENCH_GATEWAY:-1}
ONLY=${BENCH_ONLY:-}
GW_CONNS=${BENCH_GW_CONNS:-64}
GW_SLOW=${BENCH_GW_SLOW:-500}
GW_SLOW_SECONDS=${BENCH_GW_SLOW_SECONDS:-10}
GW_FREE=${BENCH_GW_FREE:-1}
OUT=bench/out
RUN=$OUT/run-$(date +%Y%m%d-%H%M%S)
RESULTS=$RUN/results.jsonl
mkdir -p "$RUN" "$OUT/bin"

log() { printf '\n== %s\n' "$*"; }
row() { "$OUT/bin/runner" row -results "$RESULTS" "$@"; }

# Servers this script started, by pid; stopped on exit. Nothing else is ever signalled.
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do
    if kill -0 "$p" 2>/dev/null; then kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; fi
  done
}
trap cleanup EXIT

# ---------------------------------------------------------------- PostgreSQL (BENCH_DATABASE=postgres)
# TJ_DB is the database the next server, check or seed uses: empty on SQLite (the file in the data
# folder), a postgres:// URL on PostgreSQL. db_args prints the matching flags.
TJ_DB=""
db_args() { if [ -n "$TJ_DB" ]; then printf '%s\n' --database "$TJ_DB"; fi; }
PG_BIN="" PG_DIR="" PG_ADMIN=""
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_url() { echo "postgres://postgres@127.0.0.1:$(cat "$PG_DIR/port")/$1?sslmode=disable"; } # pg_url DBNAME
pg_sql() { PGOPTIONS="-c client_min_messages=warning" psql "$PG_ADMIN" -v ON_ERROR_STOP=1 -qAt "$@"; }
pg_db_sql() { PGOPTIONS="-c client_min_messages=warning" psql "$TJ_DB" -v ON_ERROR_STOP=1 -qAt "$@"; } # on the database TJ_DB
# pg_up: starts the bench cluster in $PG_DIR (made by scripts/pg-test-cluster.sh the first time,
# started again with pg_ctl when it exists) and applies PG_SETTINGS with a restart.
pg_up() {
  PG_DIR=$(mkdir -p "$DATA" && cd "$DATA" && pwd)/pg
  if [ -f "$PG_DIR/data/PG_VERSION" ]; then
    PG_BIN=$(dirname "$(ls -d /usr/lib/postgresql/*/bin/pg_ctl | sort -V | tail -1)")
    local port
    port=$("$OUT/bin/runner" freeport)
    as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w -t 120 start \
      -o "-p $port -c listen_addresses=127.0.0.1 -k $PG_DIR -c max_connections=300" >/dev/null
    echo "$port" >"$PG_DIR/port"
  else
    scripts/pg-test-cluster.sh start "$PG_DIR" >/dev/null
    PG_BIN=$(dirname "$(ls -d /usr/lib/postgresql/*/bin/pg_ctl | sort -V | tail -1)")
  fi
  PG_ADMIN=$(pg_url postgres)
  local kv sets=()
  # (LOAD first: ALTER SYSTEM knows auto_explain's settings only once the module is loaded.)
  case " $PG_SETTINGS" in *auto_explain*) sets+=(-c "LOAD 'auto_explain'") ;; esac
  for kv in $PG_SETTINGS; do sets+=(-c "ALTER SYSTEM SET ${kv%%=*} = '${kv#*=}'"); done
  pg_sql "${sets[@]}"
  as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w -t 120 restart >/dev/null
  echo "PostgreSQL $(pg_sql -c 'SHOW server_version') in $PG_DIR on port $(cat "$PG_DIR/port")"
}
pg_down() {
  [ -n "$PG_DIR" ] || return 0
  if [ "${BENCH_PG_KEEP:-1}" = 1 ]; then
    as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
  else
    # The dataset goes with the cluster: without demo.json the next run seeds again.
    scripts/pg-test-cluster.sh stop "$PG_DIR" || true
    rm -f "$DATA/demo.json" "$DATA/bench-seed.txt"
  fi
  PG_DIR=""
}
if [ "$ENGINE" = postgres ]; then
  trap 'cleanup; pg_down' EXIT
  export BENCH_ENGINE=postgres # the runner starts every metric with "postgres: "
fi

stop() { # stop PID: SIGTERM, then wait for it (tokenjar shuts down cleanly)
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# start_tokenjar DATA LOG: starts tokenjar on a free loopback port (on the database TJ_DB when
# it is set); sets TJ_PID, TJ_BASE and TJ_READY_MS (exec to the first 200 from /api/v1/healthz).
start_tokenjar() {
  local port t0
  port=$("$OUT/bin/runner" freeport)
  mkdir -p "$1"
  t0=$(date +%s%N)
  "$BIN" serve --data "$1" $(db_args) --addr "127.0.0.1:$port" --no-browser >>"$2" 2>&1 &
  TJ_PID=$!
  PIDS+=("$TJ_PID")
  TJ_BASE="http://127.0.0.1:$port"
  TJ_READY_MS=$("$OUT/bin/runner" waitready -url "$TJ_BASE/api/v1/healthz" -since "$t0" -timeout 120s)
  if ! kill -0 "$TJ_PID" 2>/dev/null; then
    echo "tokenjar exited; see $2" >&2
    exit 1
  fi
}

# ---------------------------------------------------------------- 1. tools
log "tools"
if [ "${BENCH_ONLY:-}" != gateway ] && ! command -v wrk >/dev/null; then
  echo "wrk is missing: installing Debian's package"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk
fi
wrk --version 2>&1 | head -1 || true
if [ ! -x "$BIN" ]; then
  echo "$BIN is missing: running make build"
  make build
fi

LOADS=()
# warm_cache DIR: reads DIR's SQLite database file once, so its pages are in the page cache (on
# PostgreSQL the cluster's own cache is what it is: nothing to do).
warm_cache() { if [ "$ENGINE" = sqlite ]; then cat "$1/tokenjar.db" >/dev/null; fi; }
load() { LOADS+=("$1 $(cut -d' ' -f1 /proc/loadavg)"); } # the 1-minute load average before a phase
load start

# ---------------------------------------------------------------- 2. build
log "build bench/runner and bench/barefiber"
go build -o "$OUT/bin/runner" ./bench/runner
go build -o "$OUT/bin/barefiber" ./bench/barefiber
go version
row -metric "tokenjar build" -target "(info)" -measured "$("$BIN" version 2>&1 | head -1); $(go version | awk '{print $3}'); $(nproc) cores" -result INFO

# ---------------------------------------------------------------- 8c. the AI gateway (a function: BENCH_ONLY=gateway runs it alone)
gateway_phase() {
  log "gateway: fake provider direct vs through tokenjar (${GW_CONNS} concurrent, ${DURATION}s each; ${GW_SLOW} slow streams)"
  load gateway
  local gdir=$OUT/gateway-data fport fpid gpid
  rm -rf "$gdir"
  mkdir -p "$gdir"
  fport=$("$OUT/bin/runner" freeport)
  "$OUT/bin/runner" fakeai -addr "127.0.0.1:$fport" -slow-chunks "$GW_SLOW_SECONDS" >"$RUN/fakeai.log" 2>&1 &
  fpid=$!
  PIDS+=("$fpid")
  "$OUT/bin/runner" waitready -url "http://127.0.0.1:$fport/v1/models" >/dev/null
  start_tokenjar "$gdir/priced" "$RUN/server-gateway.log"
  gpid=$TJ_PID
  "$OUT/bin/runner" waitidle -pid "$gpid" >/dev/null
  # A failure here is a FAIL row, not the end of the run: the rest of the table still comes.
  if ! "$OUT/bin/runner" gateway -base "$TJ_BASE" -fake "http://127.0.0.1:$fport" -pid "$gpid" -results "$RESULTS" \
    -duration "${DURATION}s" -conns "$GW_CONNS" -slow "$GW_SLOW" -slow-chunks "$GW_SLOW_SECONDS" 2>&1 | tee "$RUN/gateway.txt"; then
    row -metric "gateway: the phase ran to its end" -target "yes" -measured "$(tail -n 1 "$RUN/gateway.txt" | cut -c1-120)" -result FAIL
  fi
  stop "$gpid"
  if "$BIN" check --data "$gdir/priced" >"$RUN/check-gateway.txt" 2>&1; then res=PASS; else res=FAIL; fi
  row -metric "gateway: ledger invariant after the gateway run" -target "consistent" -measured "$(tail -n 1 "$RUN/check-gateway.txt" | cut -c1-60)" -result "$res"
  if [ "$GW_FREE" = 1 ]; then
    start_tokenjar "$gdir/free" "$RUN/server-gateway-free.log"
    gpid=$TJ_PID
    "$OUT/bin/runner" waitidle -pid "$gpid" >/dev/null
    "$OUT/bin/runner" gateway -free -base "$TJ_BASE" -fake "http://127.0.0.1:$fport" -pid "$gpid" -results "$RESULTS" \
      -duration "${DURATION}s" -conns "$GW_CONNS" -slow 0 2>&1 | tee "$RUN/gateway-free.txt" || true
    stop "$gpid"
  fi
  stop "$fpid"
  if [ "${BENCH_KEEP_COPY:-0}" != 1 ]; then rm -rf "$gdir"; fi
}

print_table() {
  row -metric "machine load (1-min loadavg before each phase)" -target "(info)" -measured "${LOADS[*]}" -result INFO \
    -note "the machine has $(nproc) cores; a load near or above that means other work shared them"
  log "results ($RUN)"
  "$OUT/bin/runner" table -results "$RESULTS" | tee "$RUN/table.txt"
  "$OUT/bin/runner" table -results "$RESULTS" -md >"$RUN/table.md"
  echo
  echo "Markdown table: $RUN/table.md"
}

if [ "$ONLY" = gateway ]; then
  gateway_phase
  print_table
  exit 0
elif [ -n "$ONLY" ] && [ "$ONLY" != seed ]; then
  echo "BENCH_ONLY=$ONLY: only \"gateway\" and \"seed\" are known" >&2
  exit 2
fi

# ---------------------------------------------------------------- 3. seed
DEMO=$DATA/demo.json
log "dataset $DATA"
SEED_DATA=$DATA # the folder `tokenjar demo --data` writes (on SQLite, the dataset itself)
if [ "$ENGINE" = postgres ]; then
  pg_up
  row -metric "engine" -target "(info)" -result INFO \
    -measured "PostgreSQL $(pg_sql -c 'SHOW server_version'), local cluster on 127.0.0.1; $PG_SETTINGS; fsync=$(pg_sql -c 'SHOW fsync'), synchronous_commit=$(pg_sql -c 'SHOW synchronous_commit')"
  TJ_DB=$(pg_url tokenjar)
  SEED_DATA=$DATA/seed-data
  if [ ! -f "$DEMO" ]; then
    # A dataset that never finished seeding is dropped and made again.
    pg_sql -c "DROP DATABASE IF EXISTS tokenjar" -c "CREATE DATABASE tokenjar"
    rm -rf "$SEED_DATA"
  fi
else
  row -metric "engine" -target "(info)" -measured "SQLite (the file in the data folder)" -result INFO
fi
if [ -f "$DEMO" ]; then
  echo "reusing $DATA (it has demo.json): no seeding"
  if [ -f "$DATA/bench-seed.txt" ]; then
    row -metric "seed (when this dataset was made)" -target "(info)" -measured "$(cat "$DATA/bench-seed.txt")" -result INFO
  fi
else
  if [ -e "$DATA/tokenjar.db" ]; then
    echo "$DATA has a database but no demo.json: give a fresh BENCH_DATA" >&2
    exit 1
  fi
  mkdir -p "$DATA"
  demo_help=$("$BIN" demo --help 2>&1 || true) # (demo --help exits 1; under pipefail a pipe would hide the match)
  if [ "$ENGINE" = postgres ] && [ -n "${BENCH_PG_FROM:-}" ]; then
    # tokenjar migrate from a copy of an SQLite dataset (never from the folder itself).
    MBIN=${BENCH_MIGRATE_BIN:-$BIN}
    [ -f "$BENCH_PG_FROM/demo.json" ] || { echo "BENCH_PG_FROM=$BENCH_PG_FROM has no demo.json" >&2; exit 1; }
    FROM=$DATA/from-sqlite
    rm -rf "$FROM"; mkdir -p "$FROM"
    echo "copying $BENCH_PG_FROM to $FROM"
    cp "$BENCH_PG_FROM"/tokenjar.db* "$FROM/"
    src_events=$(grep -o '"events": *[0-9]*' "$BENCH_PG_FROM/demo.json" | grep -o '[0-9]*$' || echo "?")
    echo "tokenjar migrate --data $FROM --to $TJ_DB"
    t0=$(date +%s%N)
    "$MBIN" migrate --data "$FROM" --to "$TJ_DB" | tee "$RUN/seed.log"
    t1=$(date +%s%N)
    t2=$(date +%s%N)
    pg_db_sql -c "VACUUM (ANALYZE)"
    t3=$(date +%s%N)
    rm -rf "$FROM"
    cp "$BENCH_PG_FROM/demo.json" "$DEMO"
    echo "$src_events events from $BENCH_PG_FROM by tokenjar migrate in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", (b-a)/1e9}')s, then VACUUM (ANALYZE) in $(awk -v a="$t2" -v b="$t3" 'BEGIN{printf "%.1f", (b-a)/1e9}')s" >"$DATA/bench-seed.txt"
    row -metric "seed (tokenjar migrate from SQLite)" -target "(info)" -measured "$(cat "$DATA/bench-seed.txt")" -result INFO
  elif grep -q -- '-events' <<<"$demo_help"; then
    echo "seeding $EVENTS events (this takes a while at 10M)"
    t0=$(date +%s%N)
    mkdir -p "$SEED_DATA"
    "$BIN" demo --data "$SEED_DATA" $(db_args) --events "$EVENTS" --seed 1 | tee "$RUN/seed.log"
    t1=$(date +%s%N)
    if [ "$ENGINE" = postgres ]; then
      # The planner's statistics: autovacuum may not have analyzed the new rows yet, and the
      # visibility map lets the usage log's index-only scans skip the heap.
      t2=$(date +%s%N)
      pg_db_sql -c "VACUUM (ANALYZE)"
      echo "VACUUM (ANALYZE) after the seed: $(awk -v a="$t2" -v b="$(date +%s%N)" 'BEGIN{printf "%.1f", (b-a)/1e9}')s" | tee -a "$RUN/seed.log"
      if [ "$SEED_DATA/demo.json" != "$DEMO" ]; then cp "$SEED_DATA/demo.json" "$DEMO"; fi
    fi
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", (b-a)/1e9}')
    rate=$(awk -v n="$EVENTS" -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f", n/((b-a)/1e9)}')
    echo "$EVENTS events in ${secs}s ($rate events/s)" >"$DATA/bench-seed.txt"
    row -metric "seed (tokenjar demo --events)" -target "(info)" -measured "$(cat "$DATA/bench-seed.txt")" -result INFO
  else
    [ "$ENGINE" = sqlite ] || { echo "BENCH_DATABASE=postgres needs a tokenjar demo with --events" >&2; exit 1; }
    echo "WARNING: $BIN demo has no --events flag: seeding through the HTTP API instead (runner seedapi)."
    echo "WARNING: this is slower, and its data is shaped by bench/runner/seedapi.go, not by tokenjar demo."
    start_tokenjar "$DATA" "$RUN/server-seed.log"
    t0=$(date +%s%N)
    "$OUT/bin/runner" seedapi -base "$TJ_BASE" -data "$DATA" -events "$EVENTS" | tee "$RUN/seed.log"
    t1=$(date +%s%N)
    stop "$TJ_PID"
    rate=$(awk -v n="$EVENTS" -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f", n/((b-a)/1e9)}')
    echo "$EVENTS events through POST /usage (runner seedapi, no demo --events in this build) in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", (b-a)/1e9}')s ($rate events/s)" >"$DATA/bench-seed.txt"
    row -metric "seed (runner seedapi fallback)" -target "(info)" -measured "$(cat "$DATA/bench-seed.txt")" -result INFO
  fi
fi
if [ "$ENGINE" = postgres ]; then
  pg_sql -c "SELECT pg_size_pretty(pg_database_size('tokenjar'))" | tee "$RUN/data-size.txt"
  row -metric "database size on disk" -target "(info)" -result INFO \
    -measured "database tokenjar: $(pg_sql -c "SELECT pg_size_pretty(pg_database_size('tokenjar'))") (usage_events $(pg_db_sql -c "SELECT pg_size_pretty(pg_total_relation_size('usage_events'))") with its indexes)"
else
  du -sh "$DATA" | tee "$RUN/data-size.txt"
  row -metric "database size on disk" -target "(info)" -measured "$(du -sh --apparent-size "$DATA"/tokenjar.db* | awk '{print $2": "$1}' | paste -sd' ')" -result INFO
fi

if [ "$ONLY" = seed ]; then
  print_table
  exit 0
fi

# ---------------------------------------------------------------- 4. footprint
log "footprint"
size=$(stat -c %s "$BIN")
row -metric "binary size ($BIN)" -target "<= 40 MB" -measured "$(awk -v s="$size" 'BEGIN{printf "%.1f MB (%d bytes)", s/1048576, s}')" \
  -result "$( [ "$size" -le $((40 * 1048576)) ] && echo PASS || echo FAIL)"

# Three starts; the first may run the catch-up jobs (a daily backup of the whole database), so
# each waits for the server to go idle before it is stopped.
# On PostgreSQL each server has a fresh data folder of its own (the database is the dataset).
NODE=$DATA
if [ "$ENGINE" = postgres ]; then NODE=$RUN/node-read; fi
READY=()
for i in 1 2 3; do
  start_tokenjar "$NODE" "$RUN/server-start.log"
  READY+=("$TJ_READY_MS")
  echo "start $i: first answer after $TJ_READY_MS ms (pid $TJ_PID)"
  busy=$("$OUT/bin/runner" waitidle -pid "$TJ_PID")
  echo "  idle after ${busy}s"
  if [ "$i" -lt 3 ]; then stop "$TJ_PID"; fi
done
worst=$(printf '%s\n' "${READY[@]}" | sort -g | tail -1)
row -metric "start to first answered request (worst of 3)" -target "<= 300 ms" -measured "$worst ms (runs: ${READY[*]} ms)" \
  -result "$(awk -v w="$worst" 'BEGIN{print (w <= 300) ? "PASS" : "FAIL"}')" -note "page cache warm"
sleep 5
read -r rss hwm _ < <("$OUT/bin/runner" rss -pid "$TJ_PID")
row -metric "idle RSS after start (VmRSS)" -target "<= 50 MB" -measured "$(awk -v r="$rss" 'BEGIN{printf "%.1f MB", r/1024}')" \
  -result "$( [ "$rss" -le $((50 * 1024)) ] && echo PASS || echo FAIL)"

# ---------------------------------------------------------------- 5. dashboard
log "dashboard"
load dashboard
"$OUT/bin/runner" dashboard -base "$TJ_BASE" -demo "$DEMO" -results "$RESULTS" -reps "$REPS" -v >"$RUN/dashboard.txt"
sed -n '/^slowest queries/,$p' "$RUN/dashboard.txt"

# ---------------------------------------------------------------- 6. export
log "export"
# The first export of each build starts with the database file in the page cache: this one reads
# the dataset, the baseline's a copy, and how much of either the cache held otherwise decided the
# first run more than the build did.
warm_cache "$DATA"
"$OUT/bin/runner" export -base "$TJ_BASE" -demo "$DEMO" -pid "$TJ_PID" -results "$RESULTS" | tee "$RUN/export.txt"
"$OUT/bin/runner" waitidle -pid "$TJ_PID" >/dev/null
sleep 5
# The read pool memory-maps the database file (db/db.go): its pages stay mapped, as page cache the
# kernel can take back, and count in VmRSS as RssFile. The target is on the rest.
read -r rss hwm rssfile < <("$OUT/bin/runner" rss -pid "$TJ_PID")
own=$((rss - rssfile))
row -metric "idle RSS after the dashboard and export (VmRSS less mapped files)" -target "<= 50 MB" -measured "$(awk -v o="$own" -v r="$rss" -v h="$hwm" 'BEGIN{printf "%.1f MB (VmRSS %.1f MB with the mapped database file; VmHWM %.1f MB)", o/1024, r/1024, h/1024}')" \
  -result "$( [ "$own" -le $((50 * 1024)) ] && echo PASS || echo FAIL)"
stop "$TJ_PID"

# ---------------------------------------------------------------- 7. copy
WDATA=$DATA
if [ "$ENGINE" = postgres ]; then
  WDATA=$RUN/node-ingest
  if [ "$INGEST_COPY" = 1 ]; then
    log "copy the database to ingest_copy (CREATE DATABASE ... TEMPLATE tokenjar)"
    t0=$(date +%s%N)
    pg_sql -c "DROP DATABASE IF EXISTS ingest_copy" -c "CREATE DATABASE ingest_copy TEMPLATE tokenjar"
    echo "copied in $(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN{printf "%.1f", (b-a)/1e9}')s"
    TJ_DB=$(pg_url ingest_copy)
  fi
elif [ "$INGEST_COPY" = 1 ]; then
  WDATA=$OUT/ingest-copy
  log "copy the database to $WDATA"
  rm -rf "$WDATA"
  mkdir -p "$WDATA"
  # (the copy's job table says today's backup ran, so its catch-up does not back it up again)
  cp "$DATA"/tokenjar.db* "$DATA/demo.json" "$WDATA/"
  # The copy's pages (4 GB at 10M events) go to the disk before anything is measured: written
  # back during the ingest run, they would share the disk with its fsyncs.
  sync
fi

# ---------------------------------------------------------------- 8. exactness, ingest
log "exactness"
load exactness
start_tokenjar "$WDATA" "$RUN/server-ingest.log"
"$OUT/bin/runner" waitidle -pid "$TJ_PID" >/dev/null
"$OUT/bin/runner" exact -base "$TJ_BASE" -demo "$DEMO" -results "$RESULTS" | tee "$RUN/exact.txt"

log "ingest: bare Fiber ceiling, then tokenjar (wrk -t$THREADS -c$CONNS -d${DURATION}s --latency)"
"$OUT/bin/runner" ingestdata -demo "$DEMO" -out "$RUN/ingest-data.lua"
export BENCH_INGEST_DATA=$RUN/ingest-data.lua
export BENCH_NONCE
BENCH_NONCE=$(date +%s)
fport=$("$OUT/bin/runner" freeport)
"$OUT/bin/barefiber" -addr "127.0.0.1:$fport" >"$RUN/barefiber.log" 2>&1 &
FPID=$!
PIDS+=("$FPID")
"$OUT/bin/runner" waitready -url "http://127.0.0.1:$fport/api/v1/healthz" >/dev/null
wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --timeout 10s --latency -s bench/ingest.lua "http://127.0.0.1:$fport/api/v1/usage" | tee "$RUN/wrk-barefiber.txt"
stop "$FPID"
sleep 2
"$OUT/bin/runner" waitidle -pid "$TJ_PID" >/dev/null
load ingest
before=$("$OUT/bin/runner" count -base "$TJ_BASE" -demo "$DEMO")
BENCH_NONCE=$(date +%s)
c0=$("$OUT/bin/runner" cputicks -pid "$TJ_PID"); w0=$(date +%s%N)
wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --timeout 10s --latency -s bench/ingest.lua "$TJ_BASE/api/v1/usage" | tee "$RUN/wrk-tokenjar.txt"
c1=$("$OUT/bin/runner" cputicks -pid "$TJ_PID"); w1=$(date +%s%N)
row -metric "tokenjar CPU during the ingest run" -target "(info)" -result INFO \
  -measured "$(awk -v a="$c0" -v b="$c1" -v s="$w0" -v e="$w1" 'BEGIN{printf "%.0f%% of one core (user+system; %d cores, shared with wrk)", (b-a)/((e-s)/1e9), '"$(nproc)"'}')"
"$OUT/bin/runner" wrk -file "$RUN/wrk-tokenjar.txt" -fiber "$RUN/wrk-barefiber.txt" -results "$RESULTS"
"$OUT/bin/runner" ingestcheck -base "$TJ_BASE" -demo "$DEMO" -before "$before" -file "$RUN/wrk-tokenjar.txt" -results "$RESULTS"
stop "$TJ_PID"

# ---------------------------------------------------------------- 8a. three replicas (PostgreSQL)
# Three `tokenjar serve` processes on the same database, each with its own data folder and port;
# one wrk whose threads are spread over them (bench/ingest.lua reads BENCH_REPLICAS), so the
# latency histogram and its p99 cover every request. wrk gets three threads (one per replica)
# on the machine's two cores.
if [ "$ENGINE" = postgres ] && [ "${BENCH_REPLICAS_INGEST:-1}" = 1 ]; then
  log "ingest: three replicas on one PostgreSQL database (wrk -t3 -c$CONNS -d${DURATION}s --latency)"
  load replicas
  RPIDS=() RADDRS=()
  for i in 1 2 3; do
    start_tokenjar "$RUN/node-replica-$i" "$RUN/server-replica-$i.log"
    RPIDS+=("$TJ_PID")
    RADDRS+=("${TJ_BASE#http://}")
  done
  for p in "${RPIDS[@]}"; do "$OUT/bin/runner" waitidle -pid "$p" >/dev/null; done
  before=$("$OUT/bin/runner" count -base "$TJ_BASE" -demo "$DEMO")
  BENCH_NONCE=$(date +%s)
  c0=0; for p in "${RPIDS[@]}"; do c0=$((c0 + $("$OUT/bin/runner" cputicks -pid "$p"))); done
  w0=$(date +%s%N)
  BENCH_REPLICAS=$(IFS=,; echo "${RADDRS[*]}") wrk -t3 -c"$CONNS" -d"${DURATION}s" --timeout 10s --latency -s bench/ingest.lua \
    "$TJ_BASE/api/v1/usage" | tee "$RUN/wrk-replicas.txt"
  c1=0; for p in "${RPIDS[@]}"; do c1=$((c1 + $("$OUT/bin/runner" cputicks -pid "$p"))); done
  w1=$(date +%s%N)
  export BENCH_LABEL="3 replicas"
  row -metric "tokenjar CPU during the ingest run (3 processes)" -target "(info)" -result INFO \
    -measured "$(awk -v a="$c0" -v b="$c1" -v s="$w0" -v e="$w1" 'BEGIN{printf "%.0f%% of one core (user+system, summed; %d cores, shared with wrk and PostgreSQL)", (b-a)/((e-s)/1e9), '"$(nproc)"'}')"
  "$OUT/bin/runner" wrk -file "$RUN/wrk-replicas.txt" -fiber "$RUN/wrk-barefiber.txt" -results "$RESULTS"
  "$OUT/bin/runner" ingestcheck -base "$TJ_BASE" -demo "$DEMO" -before "$before" -file "$RUN/wrk-replicas.txt" -results "$RESULTS"
  unset BENCH_LABEL
  for p in "${RPIDS[@]}"; do stop "$p"; done
fi

# ---------------------------------------------------------------- 8b. baseline build
if [ -n "${BENCH_BASELINE_BIN:-}" ] && [ "$ENGINE" = postgres ]; then
  echo "BENCH_BASELINE_BIN is not supported with BENCH_DATABASE=postgres: skipped"
elif [ -n "${BENCH_BASELINE_BIN:-}" ]; then
  log "baseline $BENCH_BASELINE_BIN: export and ingest on a fresh copy"
  BDATA=$OUT/baseline-copy
  rm -rf "$BDATA"; mkdir -p "$BDATA"
  cp "$DATA"/tokenjar.db* "$DATA/demo.json" "$BDATA/"
  sync # as for the first copy
  export BENCH_LABEL="baseline ($("$BENCH_BASELINE_BIN" version 2>&1 | head -1))"
  MAINBIN=$BIN; BIN=$BENCH_BASELINE_BIN
  start_tokenjar "$BDATA" "$RUN/server-baseline.log"
  BIN=$MAINBIN
  "$OUT/bin/runner" waitidle -pid "$TJ_PID" >/dev/null
  warm_cache "$BDATA"
  "$OUT/bin/runner" export -base "$TJ_BASE" -demo "$DEMO" -pid "$TJ_PID" -results "$RESULTS" | tee "$RUN/export-baseline.txt"
  "$OUT/bin/runner" waitidle -pid "$TJ_PID" >/dev/null
  before=$("$OUT/bin/runner" count -base "$TJ_BASE" -demo "$DEMO")
  BENCH_NONCE=$(date +%s)
  wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --timeout 10s --latency -s bench/ingest.lua "$TJ_BASE/api/v1/usage" | tee "$RUN/wrk-baseline.txt"
  "$OUT/bin/runner" wrk -file "$RUN/wrk-baseline.txt" -fiber "$RUN/wrk-barefiber.txt" -results "$RESULTS"
  "$OUT/bin/runner" ingestcheck -base "$TJ_BASE" -demo "$DEMO" -before "$before" -file "$RUN/wrk-baseline.txt" -results "$RESULTS"
  stop "$TJ_PID"
  unset BENCH_LABEL
  rm -rf "$BDATA"
fi

# ---------------------------------------------------------------- 8c. the AI gateway
if [ "$GATEWAY" = 1 ] && [ "$ENGINE" = postgres ]; then
  row -metric "gateway phase" -target "(skipped)" -measured "not run on PostgreSQL: it measures the proxy (BENCH_ONLY=gateway on SQLite)" -result INFO
elif [ "$GATEWAY" = 1 ]; then gateway_phase; fi

# ---------------------------------------------------------------- 9. ledger check, table
if [ "$CHECK" = 1 ]; then
  log "tokenjar check on $WDATA"
  t0=$(date +%s%N)
  if "$BIN" check --data "$WDATA" $(db_args) >"$RUN/check.txt" 2>&1; then res=PASS; else res=FAIL; fi
  t1=$(date +%s%N)
  tail -n 3 "$RUN/check.txt"
  row -metric "ledger invariant after the run (tokenjar check)" -target "consistent" -measured "$(tail -n 1 "$RUN/check.txt" | cut -c1-60)" -result "$res" \
    -note "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "took %.1fs", (b-a)/1e9}')"
fi
if [ "$INGEST_COPY" = 1 ] && [ "${BENCH_KEEP_COPY:-0}" != 1 ]; then
  rm -rf "$WDATA"
  if [ "$ENGINE" = postgres ]; then pg_sql -c "DROP DATABASE IF EXISTS ingest_copy"; fi
fi

print_table
