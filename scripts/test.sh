#!/usr/bin/env bash
# Runs every test of the project: the README's test command, and exactly what CI runs.
#   scripts/test.sh
# On a fresh machine it first installs what building and testing need (scripts/setup.sh) and
# fetches the models and test data (scripts/fetch-models.sh all); both do nothing when all is there.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }
failed=()
# One set of flags for every Swift build, so the CLI and the tests share one release build.
swift_flags=(-c release -Xswiftc -enable-testing)

step "Set-up: tools (scripts/setup.sh) and models (scripts/fetch-models.sh all)"
scripts/setup.sh
scripts/fetch-models.sh all

step "Embedded Swift check: the core type-checks for wasm32 with the Embedded stdlib"
scripts/check-embedded.sh

step "Swift build (release, with the tests)"
# (pipefail: the build's own exit status decides; the filter only hides progress lines)
swift build "${swift_flags[@]}" --build-tests 2>&1 | { grep -vE '^\[[0-9]+/[0-9]+\] (Compiling|Write|Emitting|Planning)' || true; }

step "Swift tests (the model tests run real inference against llama.cpp's reference vectors)"
swift test "${swift_flags[@]}" --skip-build

step "Python scripts: convert-lora.py on llama.cpp's reference adapter, then tinylm runs the result (pytest)"
python3 -m pytest -q Tests/scripts/

step "wasm: rebuild the four modules and compare them with the committed web/*.wasm"
# On a mismatch --update puts the rebuilt modules into web/, so the tests below run what the
# sources build; the run still fails at the end until they are committed.
if ! ./build-wasm.sh --check --update; then failed+=("the committed wasm modules (./build-wasm.sh --check)"); fi

step "Node tests of the wasm module (node --test)"
node --test Tests/web/

step "TypeScript declarations: tsc --noEmit --strict over a typed example of every call (Tests/types)"
tsc -p Tests/types --noEmit --strict

step "Fuzzing: mutated GGUF files, options, manifests, LoRA adapters and knowledge files, native and wasm (a bounded share)"
# The same cases every run unless FUZZ_SEED says otherwise; a failure prints how to rebuild it.
python3 scripts/fuzz.py --cases "${FUZZ_CASES:-3000}" --seed "${FUZZ_SEED:-1}" --target all

if [ -x scripts/test-browser.sh ]; then
  step "Browser tests (Chromium, Firefox ESR, WebKitGTK)"
  scripts/test-browser.sh
fi

if [ ${#failed[@]} -gt 0 ]; then
  printf '\nFAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo
echo "all tests passed"
