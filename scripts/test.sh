#!/usr/bin/env bash
# `make test`: installs what is missing, builds, starts a throwaway Postgres cluster, then runs every test:
# unit (ctest -L unit), integration (ctest -L integration, real Postgres), e2e (node:test with the official
# SDKs against the built binary), security (tests/security, one test per security.md row), interop and
# differential against the real Better Auth oracle and PostgREST's spec suite (both when ../shared is present).
# Meanwhile, in the background at nice 19: the fuzz smoke run (PGWARDEN_SKIP_FUZZ=1 skips it) and the ASan/UBSan
# build, whose unit + integration tests run last (PGWARDEN_SKIP_ASAN=1 skips them).
# Ends with the wall time of each step and one line "N passed, M failed". Exit status: 0 only if nothing failed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
SHARED="${PGWARDEN_SHARED:-$ROOT/../shared}"
JOBS="${JOBS:-2}"
# Wall time of each step, printed as it ends and again in the summary (CI's budget is 90 minutes on 2 cores).
TIMES=()
LAP=$SECONDS
lap() {  # name
  TIMES+=("$(printf '%-22s %5d s' "$1" "$((SECONDS - LAP))")"); echo "[test] $1: $((SECONDS - LAP)) s"; LAP=$SECONDS
}

scripts/install-deps.sh || exit 1
lap install-deps
cmake --preset release -DPGWARDEN_TESTS=ON >/dev/null || exit 1
cmake --build --preset release -j "$JOBS" || exit 1
lap build
BIN="$ROOT/build/release/pgwarden"

PASSED=0
FAILED=0
SUMMARY=()
record() {  # name passed failed
  PASSED=$((PASSED + $2)); FAILED=$((FAILED + $3)); SUMMARY+=("$(printf '%-14s %5d passed, %d failed' "$1" "$2" "$3")")
  lap "$1"
}
ctest_counts() {  # log -> "passed failed"
  local line total failed
  line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$1" | tail -1)
  if [[ -z "$line" ]]; then echo "0 1"; return; fi
  failed=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
  total=$(sed -E 's/.* failed out of ([0-9]+).*/\1/' <<<"$line")
  echo "$((total - failed)) $failed"
}
node_counts() {  # log -> "passed failed" (cancelled tests count as failed: a broken hook must not pass)
  local p f c
  p=$(grep -E '^# pass [0-9]+' "$1" | tail -1 | awk '{print $3}')
  f=$(grep -E '^# fail [0-9]+' "$1" | tail -1 | awk '{print $3}')
  c=$(grep -E '^# cancelled [0-9]+' "$1" | tail -1 | awk '{print $3}')
  if [[ -z "$p" ]]; then  # no summary: the suite was stopped; count the files' results so far, and one failure
    p=$(grep -cE '^ok ' "$1"); f=$(( $(grep -cE '^not ok ' "$1") + 1 ))
  fi
  echo "${p:-0} $(( ${f:-1} + ${c:-0} ))"
}
# A node:test suite. --test-force-exit ends each file's process once its tests are done: Node 20 can otherwise
# spin forever in its exit-time handle cleanup (seen here on tests/security/L.reliability: 100% CPU for 18 minutes
# after its last test passed, until killed; most likely what stopped CI's run of session 4). `timeout` bounds the
# whole suite, so that a hang fails the step instead of the whole run.
node_suite() {  # dir limit_s log concurrency 'glob'... (globs relative to dir)
  local dir=$1 limit=$2 log=$3 conc=$4
  shift 4
  (
    cd "$dir" || exit 1
    files=()
    for pattern in "$@"; do for f in $pattern; do files+=("$f"); done; done
    timeout -k 15 "$limit" node --test --test-force-exit --test-concurrency="$conc" --test-reporter=tap "${files[@]}"
  ) >"$log" 2>&1
  local rc=$?
  if [[ $rc == 124 || $rc == 137 ]]; then echo "[test] $log: stopped after $limit s"; fi
}

LOGS="$ROOT/build/test-logs"
mkdir -p "$LOGS"

# 1. Unit tests: no database, no network.
ctest --test-dir build/release -L unit --output-on-failure -j "$JOBS" >"$LOGS/unit.log" 2>&1
read -r p f < <(ctest_counts "$LOGS/unit.log"); record unit "$p" "$f"
[[ "$f" != 0 ]] && tail -40 "$LOGS/unit.log"

# 1b. In the background, at the lowest CPU priority (nice 19): the fuzz smoke run (every parser's libFuzzer
# target briefly, with its seed corpus and saved regressions) and the ASan/UBSan build of the unit and
# integration tests (preset asan, build/asan; only the test executables). They take the CPU the steps below
# leave idle while they wait on servers, browsers and timers; the nice level keeps them from slowing those
# steps. Their results are collected in step 7. PGWARDEN_SKIP_FUZZ=1 / PGWARDEN_SKIP_ASAN=1 skip them.
BG="$LOGS/background"
rm -rf "$BG"; mkdir -p "$BG"
background_work() {
  renice -n 19 -p "$BASHPID" >/dev/null 2>&1
  local t0=$SECONDS
  if [[ "${PGWARDEN_SKIP_FUZZ:-0}" != 1 ]]; then
    scripts/fuzz.sh --smoke >"$LOGS/fuzz.log" 2>&1
    echo "$((SECONDS - t0))" >"$BG/fuzz.seconds"
  fi
  t0=$SECONDS
  if [[ "${PGWARDEN_SKIP_ASAN:-0}" != 1 ]]; then
    local targets
    if cmake --preset asan -DPGWARDEN_TESTS=ON >"$LOGS/asan-build.log" 2>&1 &&
       targets=$(ninja -C build/asan -t targets all 2>/dev/null | grep -oE '^pgw_[a-z]+_tests' | sort -u | tr '\n' ' ') &&
       cmake --build --preset asan -j "$JOBS" --target ${targets:-all} >>"$LOGS/asan-build.log" 2>&1; then
      touch "$BG/asan.ok"
    fi
    echo "$((SECONDS - t0))" >"$BG/asan.seconds"
  fi
}
background_work &
BG_PID=$!

# 2. A private Postgres for everything below.
STATE="$ROOT/build/test-state"
rm -rf "$STATE"
PG_CONNINFO=$("$BIN" cluster start "$STATE/pg" postgres 2>"$LOGS/cluster.log")
if [[ -z "$PG_CONNINFO" ]]; then
  cat "$LOGS/cluster.log"; echo "could not start the test Postgres"; record cluster 0 1
else
  export PGWARDEN_TEST_PG="$PG_CONNINFO" PGWARDEN_BIN="$BIN"
  trap '"$BIN" cluster stop "$STATE/pg" >/dev/null 2>&1' EXIT

  # 3. Integration tests (GoogleTest against the real Postgres).
  ctest --test-dir build/release -L integration --output-on-failure >"$LOGS/integration.log" 2>&1
  if grep -q "No tests were found" "$LOGS/integration.log"; then :; else
    read -r p f < <(ctest_counts "$LOGS/integration.log"); record integration "$p" "$f"
    [[ "$f" != 0 ]] && tail -60 "$LOGS/integration.log"
  fi

  # 4. End-to-end tests with the official SDKs.
  if compgen -G "tests/e2e/*.test.mjs" >/dev/null; then
    node_suite tests/e2e 1200 "$LOGS/e2e.log" 2 './*.test.mjs'
    read -r p f < <(node_counts "$LOGS/e2e.log"); record e2e "$p" "$f"
    [[ "$f" != 0 ]] && grep -E '^not ok|# Subtest|error:|expected|actual' "$LOGS/e2e.log" | head -60
  fi

  # 4b. Black-box security tests, one per row of ../shared/spec/security.md (tests/security/README.md).
  if compgen -G "tests/security/*.test.mjs" >/dev/null; then
    node_suite tests/security 1800 "$LOGS/security.log" 2 './*.test.mjs'
    read -r p f < <(node_counts "$LOGS/security.log"); record security "$p" "$f"
    [[ "$f" != 0 ]] && grep -E '^not ok|# Subtest|error:|expected|actual' "$LOGS/security.log" | head -60
  fi

  # 5. Interop + differential against the real Better Auth oracle (needs ../shared).
  if [[ -d "$SHARED/oracle/better-auth" ]] && compgen -G "tests/interop/*.test.mjs" >/dev/null; then
    export PGWARDEN_SHARED="$SHARED"
    node_suite tests/e2e 1500 "$LOGS/interop.log" 1 '../interop/*.test.mjs'
    read -r p f < <(node_counts "$LOGS/interop.log"); record interop "$p" "$f"
    scripts/oracle.sh stop >/dev/null 2>&1
    [[ "$f" != 0 ]] && grep -E '^not ok|# Subtest|error:|expected|actual' "$LOGS/interop.log" | head -60
  elif [[ ! -d "$SHARED/oracle/better-auth" ]]; then
    echo "[test] ../shared is absent: interop and differential tests against the Better Auth oracle skipped"
  fi
fi

# 6. PostgREST's own spec suite against `pgwarden rest`, every configuration variant (needs ../shared).
if [[ -f "$SHARED/conformance/postgrest/run.mjs" ]]; then
  PGWARDEN_CONFORMANCE_SUITE="$SHARED/conformance/postgrest" scripts/conformance.sh --bin "$BIN" \
    --state "$ROOT/build/test-state/conformance-pg" --out "$ROOT/build/conformance" \
    --known tests/conformance/known-failures.txt --stop >"$LOGS/conformance.log" 2>&1
  total=$(grep -E '^conformance: [0-9]+ passed' "$LOGS/conformance.log" | head -1)
  unexpected=$(sed -n 's/^conformance: .* \([0-9]*\) unexpected$/\1/p' "$LOGS/conformance.log")
  p=$(sed -n 's/^conformance: \([0-9]*\) passed.*/\1/p' <<<"$total")
  known=$(sed -n 's/^conformance: \([0-9]*\) known failures.*/\1/p' "$LOGS/conformance.log")
  record conformance "${p:-0}" "${unexpected:-1}"
  SUMMARY[-1]+=" (and ${known:-?} known failures listed in docs/compatibility.md)"
  echo "[test] PostgREST spec suite: ${total#conformance: } (known failures: docs/compatibility.md)"
  grep -E '^UNEXPECTED|^now passing' "$LOGS/conformance.log" | head -40
else
  echo "[test] ../shared is absent: PostgREST's spec suite (conformance) skipped"
fi

# 7. The background work of 1b: the fuzz smoke run's results, then the unit and integration tests again under
# AddressSanitizer + UndefinedBehaviorSanitizer. Any report fails its test: ASan and UBSan halt on the first
# error (UB is built non-recoverable), LeakSanitizer checks every test process at exit. The integration tests
# use the cluster of step 2 (each test has its own database), serially as in step 3 (roles are cluster-wide).
t_wait=$SECONDS
wait "$BG_PID"
echo "[test] waited $((SECONDS - t_wait)) s for the background work (fuzz $(cat "$BG/fuzz.seconds" 2>/dev/null || echo -) s, asan build $(cat "$BG/asan.seconds" 2>/dev/null || echo -) s, at nice 19)"
LAP=$SECONDS
if [[ "${PGWARDEN_SKIP_FUZZ:-0}" != 1 ]]; then
  p=$(grep -cE '^[a-z_]+_fuzz +ok' "$LOGS/fuzz.log"); f=$(grep -cE '^[a-z_]+_fuzz +(CRASH|REGRESSION|FAIL|BUILD)' "$LOGS/fuzz.log")
  [[ "$p" == 0 && "$f" == 0 ]] && f=1
  record fuzz "$p" "$f"
  [[ "$f" != 0 ]] && tail -30 "$LOGS/fuzz.log"
fi
asan_ctest() {  # label log jobs -> runs `ctest -L label` in build/asan with the sanitizers' options
  ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:strict_string_checks=1:check_initialization_order=1" \
  UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
    ctest --test-dir build/asan -L "$1" --output-on-failure -j "$3" >"$2" 2>&1
}
asan_report() {  # log -> the sanitizer reports and failed tests of a failed run
  grep -E -A12 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$1" | head -60
  grep -E '^\s*[0-9]+ - .*\(Failed|\(Subprocess|\(Timeout' "$1" | head -20
}
if [[ "${PGWARDEN_SKIP_ASAN:-0}" != 1 ]]; then
  if [[ -f "$BG/asan.ok" ]]; then
    asan_ctest unit "$LOGS/asan-unit.log" "$JOBS"
    read -r p f < <(ctest_counts "$LOGS/asan-unit.log"); record asan-unit "$p" "$f"
    [[ "$f" != 0 ]] && asan_report "$LOGS/asan-unit.log"
    if [[ -n "${PGWARDEN_TEST_PG:-}" ]]; then
      asan_ctest integration "$LOGS/asan-integration.log" 1
      read -r p f < <(ctest_counts "$LOGS/asan-integration.log"); record asan-integ "$p" "$f"
      [[ "$f" != 0 ]] && asan_report "$LOGS/asan-integration.log"
    fi
  else
    tail -30 "$LOGS/asan-build.log"; echo "[test] the asan build failed"; record asan-build 0 1
  fi
fi

echo
echo "== test summary (logs in build/test-logs) =="
printf '%s\n' "${SUMMARY[@]}"
echo "== wall time per step =="
printf '%s\n' "${TIMES[@]}"
echo "$PASSED passed, $FAILED failed"
[[ "$FAILED" == 0 ]]
