#!/usr/bin/env bash
# Installs what the tests need, builds, and runs every test suite:
#   1. release build: unit tests (CTest) and the end-to-end suite against the built binary (twice:
#      with the configured I/O threads, and with one)
#   2. AddressSanitizer + UBSan build: unit tests and the end-to-end suite again
#   3. ThreadSanitizer build: unit tests and the end-to-end concurrency scenarios
#   4. every libFuzzer target for a bounded time
# WSGATE_SKIP_ASAN=1, WSGATE_SKIP_TSAN=1, WSGATE_SKIP_FUZZ=1 skip a stage for a quicker local loop.
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

# With one I/O thread a connection runs on the io_context itself rather than on a strand of its
# own (server.cpp): the same suite again on that path.
step "end-to-end tests (release, one I/O thread)"
WSGATE_BIN="$root/build/release/src/app/wsgate" WSGATE_E2E_THREADS=1 node --test --test-concurrency=2 tests/e2e/

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

if [[ "${WSGATE_SKIP_TSAN:-0}" != 1 ]]; then
    # ThreadSanitizer: the unit tests, and the scenarios where threads meet (management posts from
    # other threads, drain under load, cluster forwarding and fan-out between a node's Redis
    # connections and its sessions, TLS sessions) against a TSan gateway. Any report aborts the
    # process.
    step "ThreadSanitizer build"
    cmake --preset tsan >/dev/null
    cmake --build --preset tsan -j "$jobs"
    export TSAN_OPTIONS=halt_on_error=1:abort_on_error=1:second_deadlock_stack=1
    step "unit tests (tsan)"
    ctest --preset tsan -j "$jobs"
    step "end-to-end concurrency scenarios (tsan)"
    WSGATE_BIN="$root/build/tsan/src/app/wsgate" WSGATE_E2E_SLOW=1 node --test --test-concurrency=2 \
        tests/e2e/core_lifecycle.test.js tests/e2e/mgmt_sdkjs.test.js tests/e2e/mgmt_backpressure.test.js \
        tests/e2e/cluster.test.js tests/e2e/broadcast.test.js tests/e2e/tls.test.js
fi

if [[ "${WSGATE_SKIP_FUZZ:-0}" != 1 ]]; then
    # Each libFuzzer target for a bounded time, from the committed seeds (fuzz/README.md).
    step "fuzzing (${WSGATE_FUZZ_SECONDS:-15} s per target)"
    fuzz/run --seconds "${WSGATE_FUZZ_SECONDS:-15}"
fi

step "all tests passed"
