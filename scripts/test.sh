#!/usr/bin/env bash
# Installs what the tests need, builds, and runs every test suite:
#   1. release build: unit tests (CTest) and the end-to-end suite against the built binary
#   2. AddressSanitizer + UBSan build: unit tests and the end-to-end suite again
# Set WSGATE_SKIP_ASAN=1 for a quicker local loop.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

start=$(date +%s)
step() { printf '\n==> [%4ds] %s\n' "$(($(date +%s) - start))" "$*"; }

step "dependencies"
./scripts/install-deps.sh --test
npm ci --no-audit --no-fund --loglevel=error

jobs=$(nproc)

step "release build"
cmake --preset release >/dev/null
cmake --build --preset release -j "$jobs"

step "unit tests (release)"
ctest --preset release -j "$jobs"

step "end-to-end tests (release)"
WSGATE_BIN="$root/build/release/src/app/wsgate" node --test --test-concurrency=2 tests/e2e/

if [[ "${WSGATE_SKIP_ASAN:-0}" != 1 ]]; then
    step "AddressSanitizer + UBSan build"
    cmake --preset asan >/dev/null
    cmake --build --preset asan -j "$jobs"

    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    step "unit tests (asan)"
    ctest --preset asan -j "$jobs"

    step "end-to-end tests (asan)"
    WSGATE_BIN="$root/build/asan/src/app/wsgate" WSGATE_E2E_SLOW=1 node --test --test-concurrency=2 tests/e2e/
fi

step "all tests passed"
