#!/usr/bin/env bash
# PostgREST's own spec suite against `pgwarden rest`, in every configuration variant it needs.
#
#   scripts/conformance.sh [--bin PATH] [--only base,max-rows-2] [--filter REGEX] [--state DIR] [--out DIR]
#                          [--known FILE] [--no-fail] [--stop]
# --known: failures listed there (docs/compatibility.md explains each) do not fail the run; --stop stops the
# private Postgres afterwards (make test).
#
# A private Postgres (default state dir build/conformance-pg; roles are cluster-wide, so one fixture database
# per cluster: give each concurrent user its own --state) gets the suite's fixtures (fixtures/load.sh, every
# run starts from a fresh copy), then tests/conformance/run-variants.mjs starts `pgwarden rest` once per
# variant and runs ../shared/conformance/postgrest/run.mjs. Output: one line per variant and
# "conformance: N passed, M failed, K skipped"; failures listed in build/conformance/failures.txt.
# Skips with a message when ../shared/conformance/postgrest is absent (a plain clone).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=build/release/pgwarden
STATE=build/conformance-pg
OUT=build/conformance
PASS=()
STOP=0
while (($#)); do
  case "$1" in
    --bin) BIN=$2; shift 2 ;;
    --state) STATE=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --only|--filter) PASS+=("$1" "$2"); shift 2 ;;
    --no-fail) PASS+=("$1"); shift ;;
    --known) PASS+=("$1" "$2"); shift 2 ;;
    --stop) STOP=1; shift ;;
    *) echo "conformance.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
SUITE=${PGWARDEN_CONFORMANCE_SUITE:-../shared/conformance/postgrest}
if [[ ! -f "$SUITE/run.mjs" ]]; then
  echo "conformance: skipped ($SUITE not present: PostgREST's spec suite is not part of this checkout)"
  exit 0
fi
conninfo=$("$BIN" cluster start "$STATE" postgres 2>/dev/null | tail -1)
port=$(sed -n 's/.*port=\([0-9]*\).*/\1/p' <<<"$conninfo")
if [[ -z "$port" ]]; then
  echo "conformance: could not start the private Postgres in $STATE" >&2
  exit 1
fi
"$SUITE/fixtures/load.sh" "postgresql://postgres@127.0.0.1:$port/postgrest_test" 2>"$STATE/load.log" ||
  { cat "$STATE/load.log" >&2; exit 1; }
rc=0
node tests/conformance/run-variants.mjs --bin "$BIN" --suite "$SUITE" --db-port "$port" --out "$OUT" "${PASS[@]}" || rc=$?
[[ "$STOP" == 1 ]] && "$BIN" cluster stop "$STATE" >/dev/null 2>&1
exit $rc
