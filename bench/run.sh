#!/usr/bin/env bash
# `make bench`: pgwarden side by side with the real Better Auth 1.6.23 oracle, in one run, on equal terms.
#
#   bench/run.sh                                   # defaults: 10 s x 32 connections x 2 rounds (~4-5 min)
#   BENCH_DURATION=3 BENCH_ROUNDS=1 bench/run.sh   # quick end-to-end check (~1 min)
#
# What it does (details and how to read the output: bench/README.md):
#   1. two fresh private Postgres clusters with identical settings (`pgwarden cluster start`), one for pgwarden
#      (`pgwarden serve` migrates it) and one for Better Auth (the oracle's own migrate.mjs), plus a pgbench
#      database (scale BENCH_PGBENCH_SCALE) in pgwarden's cluster;
#   2. pgwarden (`serve`, defaults) and the oracle's node server (rate limiting off, its own HTTP port, so the
#      shared oracle that tests use is left alone) on free ports, same secret; idle RSS of both;
#   3. per round, per scenario (get-session, token, jwks, sign-in-email): Better Auth then pgwarden, each with
#      the oracle's bench.mjs (autocannon, same duration/connections); right before pgwarden's get-session
#      `pgbench -S` (the database's limit), right before its sign-in the 2-core scrypt limit
#      (bench/scrypt-limit.mjs); busy-before (1 s of /proc/stat) and load average before every phase;
#   4. bench/report.mjs -> bench/results/<timestamp>.{json,md}, the Markdown also on stdout.
# Everything it starts is stopped on exit; the clusters are deleted unless BENCH_KEEP=1.
#
# Knobs: BENCH_DURATION (s per scenario, 10), BENCH_CONNECTIONS (32), BENCH_ROUNDS (2),
#   BENCH_ONLY (comma list of scenarios, all), BENCH_SCRYPT_SECONDS (5), BENCH_SCRYPT_THREADS (2),
#   BENCH_PGBENCH_SCALE (10), BENCH_PGBENCH_MODE (prepared), BENCH_PG_FSYNC (on; both clusters),
#   BENCH_STATE_DIR (build/bench), BENCH_KEEP (0), BENCH_OUT (bench/results), PGWARDEN_BIN, and any
#   PGWARDEN_* setting (passed through to pgwarden serve, e.g. PGWARDEN_THREADS, PGWARDEN_DB_POOL_SIZE).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
BENCH="$ROOT/bench"

DURATION="${BENCH_DURATION:-10}"
CONNECTIONS="${BENCH_CONNECTIONS:-32}"
ROUNDS="${BENCH_ROUNDS:-2}"
ONLY="${BENCH_ONLY:-get-session,token,jwks,sign-in-email}"
SCRYPT_SECONDS="${BENCH_SCRYPT_SECONDS:-5}"
SCRYPT_THREADS="${BENCH_SCRYPT_THREADS:-2}"
PGBENCH_SCALE="${BENCH_PGBENCH_SCALE:-10}"
PGBENCH_MODE="${BENCH_PGBENCH_MODE:-prepared}"  # the harder reference (cpp-stack.md §3b)
PG_FSYNC="${BENCH_PG_FSYNC:-on}"
STATE="${BENCH_STATE_DIR:-$ROOT/build/bench}"
OUT="${BENCH_OUT:-$BENCH/results}"
BIN="${PGWARDEN_BIN:-$ROOT/build/release/pgwarden}"
ORACLE_DIR="$ROOT/build/oracle"
SECRET="bench-secret-0123456789abcdef0123456789abcdef"
EMAIL="bench.user@example.com"
if [[ -z "${PG_BIN:-}" ]]; then PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"; fi
export PG_BIN

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------------------------------------- prerequisites
[[ -x "$PG_BIN/pgbench" ]] || die "pgbench not found (PG_BIN=$PG_BIN)"
if [[ ! -x "$BIN" ]]; then
  log "building pgwarden"
  cmake --preset release >/dev/null && cmake --build --preset release -j "${JOBS:-2}" --target pgwarden >/dev/null
fi
[[ -x "$BIN" ]] || die "$BIN missing"
if [[ ! -d "$ORACLE_DIR/node_modules/autocannon" ]]; then
  log "installing the Better Auth oracle into build/oracle (scripts/oracle.sh start)"
  scripts/oracle.sh start >/dev/null || die "scripts/oracle.sh start failed"
fi
[[ -f "$ORACLE_DIR/bench.mjs" && -f "$ORACLE_DIR/server.mjs" ]] || die "$ORACLE_DIR is not the oracle"

# ---------------------------------------------------------------------------------------------- helpers
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { local p="$1"; while port_in_use "$p"; do p=$((p + 1)); done; echo "$p"; }
busy_pct() {  # share of all CPUs busy during 1 s, from /proc/stat (the "busy-before" noise figure)
  local a b
  a=$(awk '/^cpu /{print $5+$6, $2+$3+$4+$5+$6+$7+$8+$9; exit}' /proc/stat)
  sleep 1
  b=$(awk '/^cpu /{print $5+$6, $2+$3+$4+$5+$6+$7+$8+$9; exit}' /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN{split(a,x," ");split(b,y," ");t=y[2]-x[2];printf "%.1f", (t > 0 ? 100*(1-(y[1]-x[1])/t) : 0)}'
}
load1() { cut -d' ' -f1 /proc/loadavg; }
cpu_ticks() {  # utime + stime of the given processes, in clock ticks
  local t=0 p v
  for p in "$@"; do v=$(sed -E 's/.*\) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}'); t=$((t + ${v:-0})); done
  echo "$t"
}
settle() {  # until both servers are idle (< 50 ms CPU in 0.5 s; a server may still be working off the
  # previous phase's backlog, e.g. Better Auth's queued scrypt hashes), at most 60 s; prints the seconds waited
  local start=$SECONDS a b
  while (( SECONDS - start < 60 )); do
    a=$(cpu_ticks $PGW_PID $BA_PID); sleep 0.5; b=$(cpu_ticks $PGW_PID $BA_PID)
    (( b - a < 5 )) && break
  done
  echo $((SECONDS - start))
}
rss_kb() { awk '/^VmRSS:/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
hwm_kb() { awk '/^VmHWM:/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
postmaster_pid() { head -1 "$1/pgdata/postmaster.pid"; }
conn_field() { sed -E "s/.*(^| )$2=([^ ]+).*/\2/" <<<"$1"; }
wait_http() {  # url pid name
  for _ in $(seq 1 150); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.2
  done
  return 1
}

PGW_PID="" BA_PID=""
cleanup() {
  local rc=$?
  for pid in $PGW_PID $BA_PID; do
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
  for c in pg-pgwarden pg-betterauth; do
    [[ -f "$STATE/$c/pgdata/postmaster.pid" ]] && "$BIN" cluster stop "$STATE/$c" >/dev/null 2>&1 || true
  done
  if [[ "${BENCH_KEEP:-0}" != 1 ]]; then rm -rf "$STATE/pg-pgwarden" "$STATE/pg-betterauth"; fi
  [[ -n "${RUN:-}" ]] && rm -f "$RUN/pgwarden"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------- set-up
STAMP="$(date -u +%Y-%m-%dT%H-%M-%SZ)"
RUN="$STATE/run-$STAMP"
mkdir -p "$RUN/raw" "$OUT"
BIN_SRC="$BIN" BIN_MTIME="$(date -u -r "$BIN" +%FT%TZ)"
cp "$BIN" "$RUN/pgwarden" && BIN="$RUN/pgwarden"  # others may rebuild build/release meanwhile
for c in pg-pgwarden pg-betterauth; do  # leftovers of an interrupted run
  [[ -f "$STATE/$c/pgdata/postmaster.pid" ]] && "$BIN" cluster stop "$STATE/$c" >/dev/null 2>&1 || true
  rm -rf "${STATE:?}/$c"
done
LOAD_START="$(cat /proc/loadavg)"
log "run $STAMP: ${DURATION}s x ${CONNECTIONS} connections x ${ROUNDS} rounds; scenarios $ONLY; load $LOAD_START"

log "starting two Postgres clusters (identical settings, fsync=$PG_FSYNC)"
PGW_CONN="$("$BIN" cluster start "$STATE/pg-pgwarden" neondb 2>>"$RUN/cluster.log")" || die "cluster (pgwarden) failed: $(tail -5 "$RUN/cluster.log")"
BA_CONN="$("$BIN" cluster start "$STATE/pg-betterauth" neondb 2>>"$RUN/cluster.log")" || die "cluster (betterauth) failed: $(tail -5 "$RUN/cluster.log")"
PSQL=("$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1)
for conn in "$PGW_CONN" "$BA_CONN"; do
  "${PSQL[@]}" "$conn" -c "ALTER SYSTEM SET fsync = '$PG_FSYNC'" -c "SELECT pg_reload_conf()" >/dev/null
done
PGW_PM="$(postmaster_pid "$STATE/pg-pgwarden")"
BA_PM="$(postmaster_pid "$STATE/pg-betterauth")"
PG_SETTINGS="$("${PSQL[@]}" "$PGW_CONN" -At -c "SELECT string_agg(name || '=' || current_setting(name), ' ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync','synchronous_commit','shared_buffers','max_connections','full_page_writes')")"
PG_VERSION_STR="$("${PSQL[@]}" "$PGW_CONN" -At -c "SHOW server_version")"

log "pgbench -i -s $PGBENCH_SCALE (database pgbench in pgwarden's cluster)"
"${PSQL[@]}" "$PGW_CONN" -c "CREATE DATABASE pgbench" >/dev/null
PGB_HOST="$(conn_field "$PGW_CONN" host)" PGB_PORT="$(conn_field "$PGW_CONN" port)"
"$PG_BIN/pgbench" -i -q -s "$PGBENCH_SCALE" -h "$PGB_HOST" -p "$PGB_PORT" -U postgres pgbench >"$RUN/pgbench-init.log" 2>&1 \
  || die "pgbench -i failed: $(tail -5 "$RUN/pgbench-init.log")"

log "migrating Better Auth's database (oracle migrate.mjs)"
BA_ENV=(ORACLE_PG_HOST="$(conn_field "$BA_CONN" host)" ORACLE_PG_PORT="$(conn_field "$BA_CONN" port)"
  ORACLE_PG_DB=neondb ORACLE_PG_USER=postgres BETTER_AUTH_SECRET="$SECRET" NODE_ENV=production
  ORACLE_RATE_LIMIT=0 ORACLE_STRICT_BASEPATH="")
env "${BA_ENV[@]}" node "$ORACLE_DIR/migrate.mjs" >"$RUN/betterauth-migrate.log" 2>&1 || die "migrate.mjs failed: $(tail -5 "$RUN/betterauth-migrate.log")"

BA_PORT="$(free_port "${BENCH_BETTERAUTH_PORT:-4192}")"
env "${BA_ENV[@]}" ORACLE_HTTP_PORT="$BA_PORT" node "$ORACLE_DIR/server.mjs" >"$RUN/betterauth.log" 2>&1 &
BA_PID=$!
wait_http "http://127.0.0.1:$BA_PORT/auth/ok" "$BA_PID" || die "Better Auth did not start: $(tail -5 "$RUN/betterauth.log")"

PGW_PORT="$(free_port "$((BA_PORT + 1))")"
DATABASE_URL="$PGW_CONN" PGWARDEN_SECRET="$SECRET" PGWARDEN_LISTEN="127.0.0.1:$PGW_PORT" PGWARDEN_DB_NAME=neondb PGWARDEN_RATE_LIMIT="${PGWARDEN_RATE_LIMIT:-off}" \
  PGWARDEN_LOG_LEVEL="${PGWARDEN_LOG_LEVEL:-warn}" "$BIN" serve >"$RUN/pgwarden.log" 2>&1 &
PGW_PID=$!
wait_http "http://127.0.0.1:$PGW_PORT/neondb/auth/ok" "$PGW_PID" || die "pgwarden did not start: $(tail -5 "$RUN/pgwarden.log")"
sleep 2  # settle before reading idle RSS
PGW_IDLE_KB="$(rss_kb "$PGW_PID")" BA_IDLE_KB="$(rss_kb "$BA_PID")"
log "pgwarden pid $PGW_PID on :$PGW_PORT (idle RSS $((PGW_IDLE_KB / 1024)) MB); Better Auth pid $BA_PID on :$BA_PORT (idle RSS $((BA_IDLE_KB / 1024)) MB)"

GIT_REV="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
GIT_DIRTY="$(git -C "$ROOT" status --porcelain -- src 2>/dev/null | wc -l)"
cat >"$RUN/meta.json" <<EOF
{
  "stamp": "$STAMP", "started_at": "$(date -u +%FT%TZ)",
  "duration_s": $DURATION, "connections": $CONNECTIONS, "rounds": $ROUNDS, "scenarios": "$ONLY",
  "cpus": $(nproc), "cpu_model": "$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)",
  "mem_total_kb": $(awk '/^MemTotal:/{print $2}' /proc/meminfo), "kernel": "$(uname -r)", "node": "$(node --version)",
  "postgres": "$PG_VERSION_STR", "pg_settings": "$PG_SETTINGS",
  "pgbench": {"scale": $PGBENCH_SCALE, "mode": "$PGBENCH_MODE", "clients": $CONNECTIONS, "threads": 2},
  "scrypt_limit": {"threads": $SCRYPT_THREADS, "seconds": $SCRYPT_SECONDS},
  "loadavg_start": "$LOAD_START",
  "pgwarden": {"pid": $PGW_PID, "port": $PGW_PORT, "postmaster_pid": $PGW_PM, "binary": "$BIN_SRC",
    "binary_mtime": "$BIN_MTIME", "git_rev": "$GIT_REV", "src_files_modified": $GIT_DIRTY,
    "threads": "${PGWARDEN_THREADS:-default (cores)}", "db_pool_per_thread": "${PGWARDEN_DB_POOL_SIZE:-default (4)}",
    "idle_rss_kb": $PGW_IDLE_KB},
  "betterauth": {"pid": $BA_PID, "port": $BA_PORT, "postmaster_pid": $BA_PM, "version": "better-auth 1.6.23 (oracle)",
    "pg_pool_max": ${ORACLE_PG_POOL_MAX:-10}, "rate_limit": false, "idle_rss_kb": $BA_IDLE_KB}
}
EOF

# ---------------------------------------------------------------------------------------------- phases
PHASES="$RUN/phases.jsonl"
: >"$PHASES"
TIMEFORMAT='%U %S'

run_server() {  # round scenario target
  local r="$1" s="$2" t="$3" url auth pid pm dir settled busy load rc=0 cpu
  if [[ "$t" == pgwarden ]]; then url="http://127.0.0.1:$PGW_PORT" auth=/neondb/auth pid=$PGW_PID pm=$PGW_PM
  else url="http://127.0.0.1:$BA_PORT" auth=/auth pid=$BA_PID pm=$BA_PM; fi
  kill -0 "$pid" 2>/dev/null || die "$t (pid $pid) is not running any more; see $RUN/$t.log"
  dir="$RUN/raw/r$r-$s-$t"
  mkdir -p "$dir"
  settled="$(settle)" busy="$(busy_pct)" load="$(load1)"
  { time ORACLE_URL="$url" ORACLE_AUTH_PATH="$auth" ORACLE_OUT="$dir" ORACLE_BENCH_DURATION="$DURATION" \
      ORACLE_BENCH_CONNECTIONS="$CONNECTIONS" ORACLE_BENCH_ROUNDS=1 ORACLE_BENCH_ONLY="$s" ORACLE_BENCH_EMAIL="$EMAIL" \
      ORACLE_SERVER_PID="$pid" ORACLE_PG_PID="$pm" node "$ORACLE_DIR/bench.mjs" >"$dir/stdout.log" 2>"$dir/stderr.log" || rc=$?; } 2>"$dir/client-time"
  cpu="$(awk '{printf "%.2f", $1+$2}' "$dir/client-time" 2>/dev/null || echo null)"
  printf '{"kind":"server","round":%s,"scenario":"%s","target":"%s","settle_s":%s,"busy_before_pct":%s,"loadavg1_before":%s,"client_cpu_s":%s,"exit_code":%s,"dir":"%s"}\n' \
    "$r" "$s" "$t" "$settled" "$busy" "$load" "${cpu:-null}" "$rc" "$dir" >>"$PHASES"
  if [[ "$rc" != 0 ]]; then log "  $t $s: bench.mjs failed (exit $rc): $(tail -3 "$dir/stderr.log")"
  else log "  $t $(grep -E '^round' "$dir/stdout.log" | sed -E 's/^round [0-9]+ //') [busy-before $busy%]"; fi
}

run_pgbench() {  # round
  local r="$1" f="$RUN/raw/r$1-pgbench.json" settled busy load rc=0
  settled="$(settle)" busy="$(busy_pct)" load="$(load1)"
  PGHOST="$PGB_HOST" PGPORT="$PGB_PORT" PGUSER=postgres PGDATABASE=pgbench PGBENCH_CLIENTS="$CONNECTIONS" PGBENCH_THREADS=2 \
    PGBENCH_DURATION="$DURATION" PGBENCH_MODE="$PGBENCH_MODE" PG_POSTMASTER_PID="$PGW_PM" \
    node "$BENCH/pgbench.mjs" "$f" >"$RUN/raw/r$r-pgbench.log" 2>&1 || rc=$?
  printf '{"kind":"pgbench","round":%s,"settle_s":%s,"busy_before_pct":%s,"loadavg1_before":%s,"exit_code":%s,"file":"%s"}\n' "$r" "$settled" "$busy" "$load" "$rc" "$f" >>"$PHASES"
  log "  $(tail -1 "$RUN/raw/r$r-pgbench.log") [busy-before $busy%]"
}

run_scrypt() {  # round
  local r="$1" f="$RUN/raw/r$1-scrypt.json" settled busy load rc=0
  settled="$(settle)" busy="$(busy_pct)" load="$(load1)"
  UV_THREADPOOL_SIZE="$SCRYPT_THREADS" node "$BENCH/scrypt-limit.mjs" "$f" "$SCRYPT_SECONDS" >"$RUN/raw/r$r-scrypt.log" 2>&1 || rc=$?
  printf '{"kind":"scrypt","round":%s,"settle_s":%s,"busy_before_pct":%s,"loadavg1_before":%s,"exit_code":%s,"file":"%s"}\n' "$r" "$settled" "$busy" "$load" "$rc" "$f" >>"$PHASES"
  log "  $(tail -1 "$RUN/raw/r$r-scrypt.log") [busy-before $busy%]"
}

IFS=',' read -r -a SCENARIOS <<<"$ONLY"
for r in $(seq 1 "$ROUNDS"); do
  log "round $r/$ROUNDS"
  for s in "${SCENARIOS[@]}"; do
    run_server "$r" "$s" betterauth
    [[ "$s" == get-session ]] && run_pgbench "$r"
    [[ "$s" == sign-in-email ]] && run_scrypt "$r"
    run_server "$r" "$s" pgwarden
  done
done

# ---------------------------------------------------------------------------------------------- wrap-up
sleep 2
cat >"$RUN/end.json" <<EOF
{
  "ended_at": "$(date -u +%FT%TZ)", "loadavg_end": "$(cat /proc/loadavg)",
  "pgwarden": {"rss_after_kb": $(rss_kb "$PGW_PID"), "hwm_kb": $(hwm_kb "$PGW_PID"), "alive": $(kill -0 "$PGW_PID" 2>/dev/null && echo true || echo false),
    "log_errors": $(grep -c -E '"level":"(error|fatal)"' "$RUN/pgwarden.log" || true)},
  "betterauth": {"rss_after_kb": $(rss_kb "$BA_PID"), "hwm_kb": $(hwm_kb "$BA_PID"), "alive": $(kill -0 "$BA_PID" 2>/dev/null && echo true || echo false),
    "log_errors": $(grep -c -i -E 'error' "$RUN/betterauth.log" || true)}
}
EOF
node "$BENCH/report.mjs" "$RUN" "$OUT/$STAMP"
log "logs and raw data: $RUN"
