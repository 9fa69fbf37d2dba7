#!/usr/bin/env bash
# Installs the Debian 12 packages wsgate needs. `--test` adds what the test suites need.
# Idempotent: packages already present are skipped, so a warm machine pays only a dpkg query.
set -euo pipefail

build_pkgs=(build-essential cmake ninja-build pkg-config libboost1.81-dev libboost-json1.81-dev
            libboost-url1.81-dev libssl-dev libyaml-cpp-dev libhiredis-dev)
test_pkgs=(googletest libgtest-dev libgmock-dev libbenchmark-dev awscli python3-boto3 python3
           openssl redis-server clang libclang-rt-14-dev chromium)

want=("${build_pkgs[@]}")
if [[ "${1:-}" == "--test" ]]; then want+=("${test_pkgs[@]}"); fi

missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js and npm usually come with the machine (newer than Debian's); take Debian's only if absent.
if [[ "${1:-}" == "--test" ]] && ! command -v npm >/dev/null; then missing+=(nodejs npm); fi
if ((${#missing[@]} == 0)); then exit 0; fi

echo "installing: ${missing[*]}"
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
