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
#   BENCH_ONLY       "gateway": only the gateway phase (and the build), for development
#   BENCH_GW_CONNS   concurrent plain gateway requests (default 64)
#   BENCH_GW_SLOW    concurrent slow streams (default 500); BENCH_GW_SLOW_SECONDS long each (default 10)
#   BENCH_GW_FREE    1 (default): also the free-provider pass (INFO rows); 0 skips it
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
DATA=${BENCH_DATA:-bench/out/data-$EVENTS}
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

stop() { # stop PID: SIGTERM, then wait for it (tokenjar shuts down cleanly)
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# start_tokenjar DATA LOG: starts tokenjar on a free loopback port; sets TJ_PID, TJ_BASE and
# TJ_READY_MS (exec to the first 200 from /api/v1/healthz).
start_tokenjar() {
  local port t0
  port=$("$OUT/bin/runner" freeport)
  t0=$(date +%s%N)
  "$BIN" serve --data "$1" --addr "127.0.0.1:$port" --no-browser >>"$2" 2>&1 &
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
elif [ -n "$ONLY" ]; then
  echo "BENCH_ONLY=$ONLY: only \"gateway\" is known" >&2
  exit 2
fi

# ---------------------------------------------------------------- 3. seed
DEMO=$DATA/demo.json
log "dataset $DATA"
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
  if grep -q -- '-events' <<<"$demo_help"; then
    echo "seeding $EVENTS events (this takes a while at 10M)"
    t0=$(date +%s%N)
    "$BIN" demo --data "$DATA" --events "$EVENTS" --seed 1 | tee "$RUN/seed.log"
    t1=$(date +%s%N)
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", (b-a)/1e9}')
    rate=$(awk -v n="$EVENTS" -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f", n/((b-a)/1e9)}')
    echo "$EVENTS events in ${secs}s ($rate events/s)" >"$DATA/bench-seed.txt"
    row -metric "seed (tokenjar demo --events)" -target "(info)" -measured "$(cat "$DATA/bench-seed.txt")" -result INFO
  else
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
du -sh "$DATA" | tee "$RUN/data-size.txt"
row -metric "database size on disk" -target "(info)" -measured "$(du -sh --apparent-size "$DATA"/tokenjar.db* | awk '{print $2": "$1}' | paste -sd' ')" -result INFO

# ---------------------------------------------------------------- 4. footprint
log "footprint"
size=$(stat -c %s "$BIN")
row -metric "binary size ($BIN)" -target "<= 40 MB" -measured "$(awk -v s="$size" 'BEGIN{printf "%.1f MB (%d bytes)", s/1048576, s}')" \
  -result "$( [ "$size" -le $((40 * 1048576)) ] && echo PASS || echo FAIL)"

# Three starts; the first may run the catch-up jobs (a daily backup of the whole database), so
# each waits for the server to go idle before it is stopped.
READY=()
for i in 1 2 3; do
  start_tokenjar "$DATA" "$RUN/server-start.log"
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
if [ "$INGEST_COPY" = 1 ]; then
  WDATA=$OUT/ingest-copy
  log "copy the database to $WDATA"
  rm -rf "$WDATA"
  mkdir -p "$WDATA"
  # (the copy's job table says today's backup ran, so its catch-up does not back it up again)
  cp "$DATA"/tokenjar.db* "$DATA/demo.json" "$WDATA/"
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

# ---------------------------------------------------------------- 8b. baseline build
if [ -n "${BENCH_BASELINE_BIN:-}" ]; then
  log "baseline $BENCH_BASELINE_BIN: export and ingest on a fresh copy"
  BDATA=$OUT/baseline-copy
  rm -rf "$BDATA"; mkdir -p "$BDATA"
  cp "$DATA"/tokenjar.db* "$DATA/demo.json" "$BDATA/"
  export BENCH_LABEL="baseline ($("$BENCH_BASELINE_BIN" version 2>&1 | head -1))"
  MAINBIN=$BIN; BIN=$BENCH_BASELINE_BIN
  start_tokenjar "$BDATA" "$RUN/server-baseline.log"
  BIN=$MAINBIN
  "$OUT/bin/runner" waitidle -pid "$TJ_PID" >/dev/null
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
if [ "$GATEWAY" = 1 ]; then gateway_phase; fi

# ---------------------------------------------------------------- 9. ledger check, table
if [ "$CHECK" = 1 ]; then
  log "tokenjar check on $WDATA"
  t0=$(date +%s%N)
  if "$BIN" check --data "$WDATA" >"$RUN/check.txt" 2>&1; then res=PASS; else res=FAIL; fi
  t1=$(date +%s%N)
  tail -n 3 "$RUN/check.txt"
  row -metric "ledger invariant after the run (tokenjar check)" -target "consistent" -measured "$(tail -n 1 "$RUN/check.txt" | cut -c1-60)" -result "$res" \
    -note "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "took %.1fs", (b-a)/1e9}')"
fi
if [ "$INGEST_COPY" = 1 ] && [ "${BENCH_KEEP_COPY:-0}" != 1 ]; then rm -rf "$WDATA"; fi

print_table
