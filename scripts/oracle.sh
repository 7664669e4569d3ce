#!/usr/bin/env bash
# The Better Auth 1.6.23 reference server ("oracle", ../shared/oracle/better-auth) run beside pgwarden for
# interop, differential tests and side-by-side benchmarks. The read-only shared folder is copied to
# build/oracle (its npm packages and state live there).
#   scripts/oracle.sh start   -> prints "ORACLE_URL=... ORACLE_PG=<conninfo> ORACLE_SECRET=..." (eval-able)
#   scripts/oracle.sh stop
# Ports: ORACLE_HTTP_PORT (default 4191), ORACLE_PG_PORT (default 55491); other knobs as the oracle README.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
SHARED="${PGWARDEN_SHARED:-$ROOT/../shared}"
SRC="$SHARED/oracle/better-auth"
DIR="$ROOT/build/oracle"
export ORACLE_HTTP_PORT="${ORACLE_HTTP_PORT:-4191}"
export ORACLE_PG_PORT="${ORACLE_PG_PORT:-55491}"
export ORACLE_STATE_DIR="${ORACLE_STATE_DIR:-$DIR/.state}"
export BETTER_AUTH_SECRET="${BETTER_AUTH_SECRET:-oracle-test-secret-0123456789abcdef0123456789abcdef}"

case "${1:-}" in
  start)
    [[ -d "$SRC" ]] || { echo "oracle: $SRC not found" >&2; exit 3; }
    mkdir -p "$DIR"
    # Copy the scripts (not node_modules or state); keep our installed node_modules between runs.
    (cd "$SRC" && tar cf - --exclude=node_modules --exclude=.state .) | (cd "$DIR" && tar xf -)
    chmod -R u+w "$DIR"
    if [[ ! -d "$DIR/node_modules" ]]; then
      (cd "$DIR" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    fi
    (cd "$DIR" && ./start.sh >"$DIR/start.log" 2>&1) || { cat "$DIR/start.log" >&2; exit 1; }
    echo "ORACLE_URL=http://127.0.0.1:$ORACLE_HTTP_PORT"
    echo "ORACLE_PG='host=$ORACLE_STATE_DIR/sock port=$ORACLE_PG_PORT dbname=neondb user=postgres'"
    echo "ORACLE_SECRET=$BETTER_AUTH_SECRET"
    ;;
  stop)
    [[ -x "$DIR/stop.sh" ]] && (cd "$DIR" && ./stop.sh >/dev/null 2>&1 || true)
    ;;
  *)
    echo "usage: scripts/oracle.sh start|stop" >&2
    exit 2
    ;;
esac
