#!/usr/bin/env bash
# The browser tests: the web API, the weight store, the assistant app and the embed examples in
# headless Debian chromium (Tests/browser, pytest + selenium with the system chromedriver).
#   scripts/test-browser.sh [pytest args…]      e.g. -k store, -x
# Builds web/tinylm.wasm if missing or stale and fetches the default model first (both once),
# so that each test only starts its own static server. Screenshots go to artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v chromium >/dev/null || { echo "chromium is missing (scripts/setup.sh installs it)" >&2; exit 1; }
[ -x /usr/bin/chromedriver ] || { echo "chromedriver is missing (apt-get install chromium-driver)" >&2; exit 1; }
python3 -c 'import selenium, pytest' 2>/dev/null || {
  echo "installing Python packages: selenium pytest"
  python3 -m pip install --quiet --disable-pip-version-check selenium pytest
}
# Selenium must use the system chromedriver, never download one (there may be no internet).
export SE_OFFLINE=true

# serve.py --no-build --no-fetch only checks what is there: prepare it once here.
python3 - <<'PY'
import importlib.util, sys
spec = importlib.util.spec_from_file_location('serve', 'scripts/serve.py')
serve = importlib.util.module_from_spec(spec); spec.loader.exec_module(serve)
serve.ensure_wasm(); serve.ensure_models('smollm2'); serve.link_models()
PY

mkdir -p artifacts
set +e
python3 -m pytest Tests/browser -q -p no:cacheprovider "$@"
status=$?
set -e
# pytest exits 5 when it collected no tests: that is a failure here, not a pass.
if [ "$status" -eq 5 ]; then echo "no browser tests were collected" >&2; exit 1; fi
exit "$status"
