#!/usr/bin/env bash
# Installs what pgwarden needs to build and test, only what is missing (idempotent, quiet when all is there).
# Debian 12 packages (versions pinned by the distribution release) + the e2e npm packages (exact versions,
# package-lock.json). john-data: its password.lst is the common-password list of PGWARDEN_PASSWORD_DENYLIST=common.
# Usage: scripts/install-deps.sh [--no-npm]
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libpq-dev postgresql-15 postgresql-client-15 postgresql-15-postgis-3
  libssl-dev libsodium-dev libutf8proc-dev libcurl4-openssl-dev openssl ca-certificates
  libtomlplusplus-dev
  libgtest-dev libgmock-dev
  nodejs npm wrk clang-14 libclang-rt-14-dev
  john-data
)

missing=()
for p in "${PACKAGES[@]}"; do
  # nodejs/npm may come from elsewhere on a developer machine: a working binary is enough.
  if [[ "$p" == nodejs ]] && command -v node >/dev/null 2>&1; then continue; fi
  if [[ "$p" == npm ]] && command -v npm >/dev/null 2>&1; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "[deps] installing: ${missing[*]}"
  SUDO=""
  [[ "$(id -u)" != 0 ]] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The Debian postgresql package starts a system cluster on 5432; pgwarden uses private clusters only.
if [[ "${#missing[@]}" -gt 0 ]] && systemctl is-active --quiet postgresql 2>/dev/null; then :; fi

if [[ "${1:-}" != "--no-npm" && -f tests/e2e/package-lock.json ]]; then
  if [[ ! -d tests/e2e/node_modules ]] || [[ tests/e2e/package-lock.json -nt tests/e2e/node_modules/.package-lock.json ]]; then
    echo "[deps] npm ci (tests/e2e)"
    (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
fi
