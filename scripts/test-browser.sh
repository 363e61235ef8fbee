#!/usr/bin/env bash
# The browser tests: the web API, the weight store, the assistant app and the embed examples in
# three engines (Tests/browser, pytest + selenium; Tests/browser/conftest.py says how each starts):
# headless Chromium, headless Firefox ESR, and WebKitGTK (Safari's engine) under xvfb-run, once
# as is (no SharedArrayBuffer: one thread) and once with JSC_useSharedArrayBuffer=1 (threads).
#   scripts/test-browser.sh [--engine chromium,firefox,webkit,webkit-sab] [pytest args…]   e.g. -k store, -x
# One pytest run per engine; prints each one's wall time, fails if any failed. Builds the wasm
# modules if missing or stale and fetches the default model first (both once), so that each test
# only starts its own static server. Screenshots go to artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."

engines=chromium,firefox,webkit,webkit-sab
if [ "${1:-}" = --engine ]; then engines=$2; shift 2; fi

need() { command -v "$1" >/dev/null || { echo "$1 is missing (scripts/setup.sh installs it)" >&2; exit 1; }; }
case ",$engines," in *,chromium,*) need chromium; need chromedriver ;; esac
case ",$engines," in *,firefox,*) need firefox-esr ;; esac
case ",$engines," in *,webkit*) need WebKitWebDriver; need xvfb-run ;; esac
python3 -c 'import selenium, pytest' 2>/dev/null || {
  echo "installing Python packages: selenium pytest"
  python3 -m pip install --quiet --disable-pip-version-check selenium pytest
}
# Selenium must use the local drivers, never download one (there may be no internet).
export SE_OFFLINE=true

# serve.py --no-build --no-fetch only checks what is there: prepare it once here.
python3 - <<'PY'
import importlib.util, sys
spec = importlib.util.spec_from_file_location('serve', 'scripts/serve.py')
serve = importlib.util.module_from_spec(spec); spec.loader.exec_module(serve)
serve.ensure_wasm(); serve.ensure_models('smollm2'); serve.link_models()
PY

mkdir -p artifacts
failed=()
summary=()
for engine in ${engines//,/ }; do
  printf '\n-- browser tests in %s\n' "$engine"
  run=(python3 -m pytest Tests/browser -q -rsx -p no:cacheprovider --engine "$engine" "$@")
  # WebKitGTK has no headless mode: it gets a virtual X display.
  case "$engine" in webkit*) run=(xvfb-run -a -s '-screen 0 1280x1024x24' "${run[@]}") ;; esac
  start=$(date +%s)
  set +e
  "${run[@]}"
  status=$?
  set -e
  seconds=$(( $(date +%s) - start ))
  # pytest exits 5 when it collected no tests: that is a failure here, not a pass.
  [ "$status" -eq 5 ] && echo "no browser tests were collected in $engine" >&2
  [ "$status" -eq 0 ] || failed+=("$engine")
  summary+=("$(printf '%-11s %4ds  %s' "$engine" "$seconds" "$([ "$status" -eq 0 ] && echo passed || echo "FAILED (pytest exit $status)")")")
done
printf '\n-- browser tests: wall time per engine\n'
printf '%s\n' "${summary[@]}"
[ ${#failed[@]} -eq 0 ] || { echo "browser tests failed in: ${failed[*]}" >&2; exit 1; }
