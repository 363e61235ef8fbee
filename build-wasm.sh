#!/usr/bin/env bash
# Builds the TinyLM WebAssembly module: the core (Sources/TinyLM) and its C ABI
# (Sources/TinyLMWasm) compiled as Embedded Swift for wasm32 with SIMD128, linked as a WASI
# reactor against Debian's wasi-libc, optimized with wasm-opt, written to web/tinylm.wasm.
#
#   ./build-wasm.sh            release build
#   ./build-wasm.sh --debug    no wasm-opt, keeps names (for wasm-objdump)
#
# Needs: swiftc 6.x with the Embedded stdlib for wasm32 (in the toolchain), wasm-ld (in the
# toolchain), and the Debian packages wasi-libc, libclang-rt-14-dev-wasm32, binaryen; run as
# root it installs missing packages itself.
set -euo pipefail
cd "$(dirname "$0")"

mode=release
[ "${1:-}" = "--debug" ] && mode=debug

out=web/tinylm.wasm
build=.build/wasm
mkdir -p "$build"

swiftc=$(command -v swiftc || true)
[ -n "$swiftc" ] || { echo "error: swiftc not found on PATH (install the Swift 6.3 toolchain)" >&2; exit 1; }
toolchain=$(cd "$(dirname "$(readlink -f "$swiftc")")/.." && pwd)
wasm_ld="$toolchain/bin/wasm-ld"
embedded_lib="$toolchain/lib/swift/embedded/wasm32-unknown-none-wasm"
wasi_lib=/usr/lib/wasm32-wasi
builtins=$(ls /usr/lib/llvm-*/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a 2>/dev/null | head -1 || true)

missing=()
[ -f "$wasi_lib/crt1-reactor.o" ] || missing+=(wasi-libc)
[ -n "$builtins" ] || missing+=(libclang-rt-14-dev-wasm32)
command -v wasm-opt >/dev/null || missing+=(binaryen)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing ${missing[*]}..."
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    builtins=$(ls /usr/lib/llvm-*/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a | head -1)
  else
    echo "error: missing Debian packages: ${missing[*]} (sudo apt-get install ${missing[*]})" >&2; exit 1
  fi
fi
[ -x "$wasm_ld" ] || { echo "error: $wasm_ld not found (needs the Swift toolchain's wasm-ld)" >&2; exit 1; }

# Every @_cdecl in the ABI file is exported, plus the reactor's initializer.
exports=$(grep -o '@_cdecl("[a-z_0-9]*")' Sources/TinyLMWasm/Exports.swift | sed 's/@_cdecl("\(.*\)")/--export=\1/')

sources=$(find Sources/TinyLM Sources/TinyLMWasm -name '*.swift' | sort)
echo "compiling $(echo "$sources" | wc -l) Swift files for wasm32 (Embedded, SIMD128)..."
"$swiftc" -target wasm32-unknown-none-wasm -enable-experimental-feature Embedded -wmo \
  -parse-as-library -module-name TinyLM -D TINYLM_WASM_SINGLE_MODULE \
  -O -enforce-exclusivity=unchecked \
  -Xcc -msimd128 -Xllvm -mattr=+simd128 -Xfrontend -disable-stack-protector \
  -import-objc-header Sources/TinyLMIntrinsics/include/TinyLMIntrinsics.h \
  -c $sources -o "$build/tinylm.o"

echo "linking a WASI reactor..."
# 1 MiB of stack; memory grows on demand (the model is copied in by the page).
"$wasm_ld" --no-entry $exports --export=_initialize \
  -z stack-size=1048576 --initial-memory=4194304 --max-memory=4294967296 \
  "$wasi_lib/crt1-reactor.o" "$build/tinylm.o" \
  "$embedded_lib/libswiftUnicodeDataTables.a" \
  -L"$wasi_lib" -lc "$builtins" \
  -o "$build/tinylm.linked.wasm"

if [ "$mode" = release ]; then
  echo "optimizing with wasm-opt..."
  wasm-opt -O3 --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --strip-debug "$build/tinylm.linked.wasm" -o "$out"
else
  cp "$build/tinylm.linked.wasm" "$out"
fi

raw=$(stat -c %s "$out")
gz=$(gzip -9 -c "$out" | wc -c)
awk -v f="$out" -v r="$raw" -v g="$gz" 'BEGIN { printf "wrote %s: %d bytes (%.0f KiB), gzipped %d bytes (%.0f KiB)\n", f, r, r/1024, g, g/1024 }'
