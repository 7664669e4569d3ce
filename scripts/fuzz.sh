#!/usr/bin/env bash
# Builds and runs the libFuzzer targets in tests/fuzz (`make fuzz`; `make test` uses --smoke).
#
#   scripts/fuzz.sh [--smoke] [--build-only] [--fresh] [target...]
#
#   FUZZ_SECONDS   seconds per target (default 30; --smoke: 5)
#   FUZZ_JOBS      parallel compiles (default 1: the machine is shared)
#   FUZZ_CXX       compiler (default clang++-14)
#
# Build: clang++-14 -std=c++20 -O1 -gline-tables-only -fsanitize=fuzzer,address,undefined -fno-sanitize=function (§6 of the
# C++ stack notes), UBSan made fatal. Every src/*.cpp a target needs, plus Boost.JSON and Boost.URL compiled from
# their src.hpp (so the parsers are instrumented), is compiled once into build/fuzz/obj and shared; objects are
# rebuilt only when a dependency changed (-MMD files) or the flags did.
# Run: each target first replays its regressions (tests/fuzz/regressions/<target>-*), then fuzzes for
# FUZZ_SECONDS with -max_total_time on a working corpus in build/fuzz/corpus/<target> (the seeds of
# tests/fuzz/corpus/<target> are copied in; tests/fuzz is never written). Crashes go to
# build/fuzz/artifacts/<target>/. One line per target: "ok" with runs, exec/s and coverage, or the crash
# file. Exit status: 0 only if every target built and nothing crashed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

SMOKE=0
BUILD_ONLY=0
FRESH=0
SELECTED=()
for arg in "$@"; do
  case "$arg" in
    --smoke) SMOKE=1 ;;
    --build-only) BUILD_ONLY=1 ;;
    --fresh) FRESH=1 ;;
    -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $arg" >&2; exit 2 ;;
    *) SELECTED+=("${arg%_fuzz}_fuzz") ;;
  esac
done
if [[ $SMOKE == 1 ]]; then SECONDS_PER_TARGET=5; else SECONDS_PER_TARGET="${FUZZ_SECONDS:-30}"; fi
JOBS="${FUZZ_JOBS:-1}"
CXX="${FUZZ_CXX:-clang++-14}"

OUT="$ROOT/build/fuzz"
OBJ="$OUT/obj"
GEN="$OUT/gen"
mkdir -p "$OBJ" "$GEN" "$OUT/bin" "$OUT/logs"

if ! command -v "$CXX" >/dev/null; then
  echo "fuzz.sh: $CXX not found (apt-get install clang-14 libclang-rt-14-dev)" >&2
  exit 1
fi

# --- what each target is made of ----------------------------------------------------------------------------
ALL_TARGETS=(encoding_fuzz cookie_fuzz jwt_fuzz json_body_fuzz url_fuzz http_request_fuzz query_fuzz mail_fuzz)
declare -A UNITS=(
  [encoding_fuzz]="src/crypto/encoding.cpp"
  [cookie_fuzz]="src/crypto/encoding.cpp src/crypto/hash.cpp"
  [jwt_fuzz]="src/crypto/encoding.cpp src/crypto/hash.cpp src/crypto/jwt.cpp src/crypto/jwk.cpp src/core/json.cpp src/core/error.cpp src/dataapi/jwt_claims.cpp src/dataapi/request/api_error.cpp gen/boost_json.cpp"
  [json_body_fuzz]="src/auth/body.cpp src/core/text.cpp src/core/error.cpp src/http/request.cpp gen/boost_json.cpp"
  [url_fuzz]="src/config/config.cpp src/crypto/encoding.cpp src/crypto/jwk.cpp src/crypto/jwt.cpp src/crypto/hash.cpp src/core/json.cpp src/core/error.cpp src/core/text.cpp src/core/time.cpp src/http/cors.cpp src/http/request.cpp gen/boost_url.cpp gen/boost_json.cpp"
  [http_request_fuzz]="src/http/request.cpp src/http/router.cpp src/http/cors.cpp src/core/text.cpp src/core/json.cpp src/core/error.cpp src/crypto/encoding.cpp src/crypto/hash.cpp src/crypto/jwk.cpp src/crypto/jwt.cpp src/config/config.cpp gen/boost_url.cpp gen/boost_json.cpp"
  [query_fuzz]="src/dataapi/request/api_error.cpp src/dataapi/request/format.cpp src/dataapi/request/grammar.cpp src/dataapi/request/media_type.cpp src/dataapi/request/parsec.cpp src/dataapi/request/preferences.cpp src/dataapi/request/query_params.cpp src/dataapi/request/unicode.cpp src/core/json.cpp gen/boost_json.cpp"
  [mail_fuzz]="src/mail/message.cpp src/mail/smtp_sender.cpp src/mail/templates.cpp src/core/text.cpp src/core/error.cpp"
)
declare -A LIBS=(
  [encoding_fuzz]=""
  [cookie_fuzz]="-lcrypto"
  [jwt_fuzz]="-lcrypto -lsodium"
  [json_body_fuzz]=""
  [url_fuzz]="-lcrypto -lsodium -ltomlplusplus -lpq"
  [http_request_fuzz]="-lcrypto -lsodium -ltomlplusplus -lpq"
  [query_fuzz]=""
  [mail_fuzz]="-lcurl"
)
# libFuzzer options per target (max_len lets inputs reach the limits under test: 16 KiB of headers, 8 KiB
# JWS segments).
declare -A RUN_OPTS=(
  [encoding_fuzz]="-max_len=4096"
  [cookie_fuzz]="-max_len=1024"
  [jwt_fuzz]="-max_len=24000"
  [json_body_fuzz]="-max_len=8192"
  [url_fuzz]="-max_len=1200"
  [http_request_fuzz]="-max_len=20000"
  [query_fuzz]="-max_len=4096"
  [mail_fuzz]="-max_len=4096"
)
# Boost.URL is compiled with NDEBUG, as the libboost_url the server links: 1.81 has a known internal assertion
# (boostorg/url#665, fixed in 1.82) on "scheme:" followed by a non-path character, where the release library just
# returns an error ("leftover"). With the assertion on, every URL-taking target would stop at that one input.
declare -A UNIT_FLAGS=(
  [src/config/config.cpp]="$(pkg-config --cflags tomlplusplus 2>/dev/null || echo '-DTOML_HEADER_ONLY=0 -DTOML_SHARED_LIB=1') -I$(pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)"
  [gen/boost_url.cpp]="-DNDEBUG"
)

if [[ ${#SELECTED[@]} -eq 0 ]]; then SELECTED=("${ALL_TARGETS[@]}"); fi
for t in "${SELECTED[@]}"; do
  if [[ -z "${UNITS[$t]+x}" ]]; then echo "fuzz.sh: unknown target $t (known: ${ALL_TARGETS[*]})" >&2; exit 2; fi
done

# --- build --------------------------------------------------------------------------------------------------
CXXFLAGS=(-std=c++20 -O1 -gline-tables-only -fno-omit-frame-pointer
  -fsanitize=address,undefined -fno-sanitize=function -fno-sanitize-recover=undefined
  -DBOOST_ASIO_NO_DEPRECATED -DBOOST_BEAST_USE_STD_STRING_VIEW
  -I"$ROOT/src" -I"$ROOT/tests/fuzz" -Wall -Wextra -Wno-unused-parameter)
LIB_FLAGS=(-fsanitize=fuzzer-no-link)   # instrumented for coverage, no main
TARGET_FLAGS=(-fsanitize=fuzzer)

# Flags changed since the last build: rebuild everything.
FLAGS_ID="$("$CXX" --version | head -1) ${CXXFLAGS[*]} ${LIB_FLAGS[*]} ${UNIT_FLAGS[*]}"
if [[ ! -f "$OUT/flags" || "$(cat "$OUT/flags")" != "$FLAGS_ID" ]]; then
  rm -rf "$OBJ" "$OUT/bin"
  mkdir -p "$OBJ" "$OUT/bin"
  printf '%s' "$FLAGS_ID" >"$OUT/flags"
fi

write_if_changed() {  # path content
  if [[ ! -f "$1" || "$(cat "$1")" != "$2" ]]; then printf '%s\n' "$2" >"$1"; fi
}
write_if_changed "$GEN/boost_json.cpp" '// Boost.JSON compiled from source so its parser is instrumented.
#include <boost/json/src.hpp>'
write_if_changed "$GEN/boost_url.cpp" '// Boost.URL compiled from source so its parser is instrumented.
#include <boost/url/src.hpp>'

source_of() {  # unit -> source path
  case "$1" in
    gen/*) echo "$OUT/$1" ;;
    *) echo "$ROOT/$1" ;;
  esac
}
object_of() { local u="${1%.cpp}"; echo "$OBJ/${u//\//_}.o"; }

# True when `obj` is missing or older than its source or any header its .d file lists.
stale() {  # obj src
  local obj="$1" src="$2" dep="${1%.o}.d" f
  [[ -f "$obj" && -f "$dep" ]] || return 0
  [[ "$src" -nt "$obj" ]] && return 0
  for f in $(sed -e 's/^[^:]*://' -e 's/\\$//' "$dep"); do
    [[ -e "$f" && ! "$f" -nt "$obj" ]] || return 0
  done
  return 1
}

BUILD_FAILED=0
compile() {  # src obj flags...
  local src="$1" obj="$2"
  shift 2
  local log="$OUT/logs/compile-$(basename "$obj" .o).log"
  local t0=$SECONDS
  if "$CXX" "${CXXFLAGS[@]}" "$@" -MMD -MF "${obj%.o}.d" -c "$src" -o "$obj" >"$log" 2>&1; then
    echo "[fuzz] compiled ${src#"$ROOT"/} ($((SECONDS - t0)) s)"
  else
    echo "[fuzz] FAILED to compile ${src#"$ROOT"/}:"
    head -40 "$log"
    rm -f "$obj"
    return 1
  fi
}

BUILD_START=$SECONDS
declare -A WANTED=()
for t in "${SELECTED[@]}"; do
  for u in ${UNITS[$t]}; do WANTED[$u]=1; done
done
pending=()
for u in "${!WANTED[@]}"; do
  src="$(source_of "$u")"
  obj="$(object_of "$u")"
  if stale "$obj" "$src"; then pending+=("$u"); fi
done
for t in "${SELECTED[@]}"; do
  src="$ROOT/tests/fuzz/$t.cpp"
  obj="$OBJ/$t.o"
  if stale "$obj" "$src"; then pending+=("target:$t"); fi
done

running=0
for item in "${pending[@]}"; do
  if [[ $item == target:* ]]; then
    t="${item#target:}"
    compile "$ROOT/tests/fuzz/$t.cpp" "$OBJ/$t.o" "${TARGET_FLAGS[@]}" &
  else
    # shellcheck disable=SC2086
    compile "$(source_of "$item")" "$(object_of "$item")" "${LIB_FLAGS[@]}" ${UNIT_FLAGS[$item]:-} &
  fi
  running=$((running + 1))
  if ((running >= JOBS)); then
    wait -n || BUILD_FAILED=1
    running=$((running - 1))
  fi
done
while ((running > 0)); do
  wait -n || BUILD_FAILED=1
  running=$((running - 1))
done

declare -A BUILT=()
for t in "${SELECTED[@]}"; do
  bin="$OUT/bin/$t"
  objs=("$OBJ/$t.o")
  for u in ${UNITS[$t]}; do objs+=("$(object_of "$u")"); done
  missing=0
  for o in "${objs[@]}"; do [[ -f "$o" ]] || missing=1; done
  if [[ $missing == 1 ]]; then
    echo "[fuzz] $t: not linked (a compile failed)"
    BUILD_FAILED=1
    continue
  fi
  relink=0
  [[ -x "$bin" ]] || relink=1
  for o in "${objs[@]}"; do [[ "$o" -nt "$bin" ]] && relink=1; done
  if [[ $relink == 1 ]]; then
    # shellcheck disable=SC2086
    if ! "$CXX" "${CXXFLAGS[@]}" "${TARGET_FLAGS[@]}" "${objs[@]}" ${LIBS[$t]} -o "$bin" >"$OUT/logs/link-$t.log" 2>&1; then
      echo "[fuzz] FAILED to link $t:"
      head -40 "$OUT/logs/link-$t.log"
      BUILD_FAILED=1
      continue
    fi
    echo "[fuzz] linked build/fuzz/bin/$t"
  fi
  BUILT[$t]=1
done
echo "[fuzz] build: $((SECONDS - BUILD_START)) s"
if [[ $BUILD_ONLY == 1 ]]; then exit "$BUILD_FAILED"; fi

# --- run ----------------------------------------------------------------------------------------------------
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

stat_of() {  # log key -> value from -print_final_stats
  sed -n "s/^stat::$2: *//p" "$1" | tail -1
}

FAILED=0
RESULTS=()
for t in "${SELECTED[@]}"; do
  [[ -n "${BUILT[$t]+x}" ]] || { RESULTS+=("$(printf '%-18s BUILD FAILED' "$t")"); FAILED=1; continue; }
  bin="$OUT/bin/$t"
  seeds="$ROOT/tests/fuzz/corpus/$t"
  work="$OUT/corpus/$t"
  artifacts="$OUT/artifacts/$t"
  log="$OUT/logs/$t.log"
  [[ $FRESH == 1 ]] && rm -rf "$work"
  mkdir -p "$work" "$artifacts"
  if [[ -d "$seeds" ]]; then cp -n "$seeds"/* "$work"/ 2>/dev/null; fi
  dict=()
  [[ -f "$ROOT/tests/fuzz/$t.dict" ]] && dict=(-dict="$ROOT/tests/fuzz/$t.dict")

  # 1. Known crashers must stay fixed.
  regressions=()
  for f in "$ROOT/tests/fuzz/regressions/$t"-*; do [[ -f "$f" ]] && regressions+=("$f"); done
  regressed=0
  : >"$OUT/logs/$t.regressions.log"
  for f in "${regressions[@]}"; do
    if ! "$bin" "$f" >>"$OUT/logs/$t.regressions.log" 2>&1; then
      RESULTS+=("$(printf '%-18s REGRESSION %s (log: build/fuzz/logs/%s.regressions.log)' "$t" "${f#"$ROOT"/}" "$t")")
      regressed=1
    fi
  done
  if [[ $regressed == 1 ]]; then
    FAILED=1
    continue
  fi

  # 2. Fuzz.
  # shellcheck disable=SC2086
  "$bin" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" ${RUN_OPTS[$t]} "${dict[@]}" "$work" >"$log" 2>&1
  rc=$?
  runs=$(stat_of "$log" number_of_executed_units)
  eps=$(stat_of "$log" average_exec_per_sec)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$last")
  if [[ $rc == 0 ]]; then
    RESULTS+=("$(printf '%-18s ok    %ss  runs=%s  exec/s=%s  cov=%s  ft=%s  corpus=%s' "$t" "$SECONDS_PER_TARGET" \
      "${runs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}")")
  else
    crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    RESULTS+=("$(printf '%-18s CRASH %s (log: build/fuzz/logs/%s.log)' "$t" "${crash:-"(exit $rc, no artifact)"}" "$t")")
    why=$(grep -m1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|fuzz property violated' "$log")
    [[ -n "$why" ]] && RESULTS+=("                   $why")
    FAILED=1
  fi
done

echo
echo "== fuzz summary ($SECONDS_PER_TARGET s per target; logs in build/fuzz/logs) =="
printf '%s\n' "${RESULTS[@]}"
if [[ $FAILED != 0 || $BUILD_FAILED != 0 ]]; then exit 1; fi
exit 0
