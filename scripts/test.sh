#!/usr/bin/env bash
# Runs every test of the project: the README's test command, and what CI calls.
#   scripts/test.sh
# Needs the models (scripts/fetch-models.sh all) and the tools scripts/setup.sh installs.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }
# One set of flags for every Swift build, so the CLI and the tests share one release build.
swift_flags=(-c release -Xswiftc -enable-testing)

step "Embedded Swift check: the core type-checks for wasm32 with the Embedded stdlib"
scripts/check-embedded.sh

step "Swift build (release, with the tests)"
# (pipefail: the build's own exit status decides; the filter only hides progress lines)
swift build "${swift_flags[@]}" --build-tests 2>&1 | { grep -vE '^\[[0-9]+/[0-9]+\] (Compiling|Write|Emitting|Planning)' || true; }

step "Swift tests (the model tests run real inference against llama.cpp's reference vectors)"
swift test "${swift_flags[@]}" --skip-build

step "wasm build"
./build-wasm.sh

step "Node tests of the wasm module (node --test)"
node --test Tests/web/

if [ -x scripts/test-browser.sh ]; then
  step "Browser tests (Chromium, Firefox ESR, WebKitGTK)"
  scripts/test-browser.sh
fi
