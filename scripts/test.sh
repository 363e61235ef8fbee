#!/usr/bin/env bash
# Runs every test of the project: the README's test command, and what CI calls.
#   scripts/test.sh
# Needs the models (scripts/fetch-models.sh all) and the tools scripts/setup.sh installs.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "Embedded Swift check: the core type-checks for wasm32 with the Embedded stdlib"
scripts/check-embedded.sh

step "Swift tests (release build with testing enabled: the model tests run real inference)"
swift test -c release -Xswiftc -enable-testing 2>&1 | tee /tmp/tinylm-swift-test.log | grep -vE '^\[[0-9]+/[0-9]+\] (Compiling|Write|Emitting)' || {
  echo "swift test failed"; exit 1; }
