#!/usr/bin/env bash
# Installs the build dependencies, builds the release binary and runs it. Arguments are passed to
# wsgate; with none it runs on its embedded default (ws://127.0.0.1:8080/dev, echo on $default).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cmake --preset release -DWSGATE_TESTS=OFF -DWSGATE_BENCH=OFF >/dev/null
cmake --build --preset release --target wsgate
exec ./build/release/src/app/wsgate "$@"
