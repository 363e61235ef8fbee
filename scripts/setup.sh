#!/usr/bin/env bash
# Installs what building and testing need on a fresh Debian machine (run as root, or with sudo
# available): the wasm toolchain pieces, the browser for the web tests, OpenSSL (manifest
# signing) and the Python tools the tests use. The Swift toolchain itself (6.3.1) must already be on PATH.
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
command -v node >/dev/null || need_apt+=(nodejs)
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
command -v swift >/dev/null || { echo "swift is not on PATH: install the Swift 6.3.1 toolchain" >&2; exit 1; }
echo "setup complete"
