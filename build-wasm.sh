#!/usr/bin/env bash
# Builds the TinyLM WebAssembly modules: the core (Sources/TinyLM) and its C ABI
# (Sources/TinyLMWasm) compiled as Embedded Swift for wasm32 with SIMD128, linked as a WASI
# reactor against Debian's wasi-libc, optimized with wasm-opt. Four variants, compiled side by
# side (the page picks one at run time, web/engine.js):
#   web/tinylm.wasm             single-threaded, SIMD128; runs everywhere
#   web/tinylm-mt.wasm          threads: compiled with atomics and bulk memory, linked with a
#                               shared, imported memory that helper workers instantiate the
#                               module on (web/threads.js; used when the page is cross-origin
#                               isolated)
#   web/tinylm-relaxed.wasm     the two above with relaxed SIMD as well (the kernels of
#   web/tinylm-mt-relaxed.wasm  Sources/TinyLM/Tensor/Kernels/WasmRelaxed/), used
#                               where the engine validates relaxed SIMD; same results
#
#   ./build-wasm.sh                  release build of all four
#   ./build-wasm.sh --debug          no wasm-opt, keeps names (for wasm-objdump)
#   ./build-wasm.sh VARIANT...       only those: single, threads, single-relaxed, threads-relaxed
#
# Needs: swiftc 6.x with the Embedded stdlib for wasm32 (in the toolchain), wasm-ld (in the
# toolchain), and the Debian packages wasi-libc, libclang-rt-14-dev-wasm32, binaryen, wabt; run as
# root it installs missing packages itself.
set -euo pipefail
cd "$(dirname "$0")"

mode=release
all_variants="single threads single-relaxed threads-relaxed"
variants=""
for argument in "$@"; do
  case "$argument" in
    --debug) mode=debug ;;
    single|threads|single-relaxed|threads-relaxed) variants="$variants $argument" ;;
    --single) variants="$variants single" ;;
    --threads) variants="$variants threads" ;;
    *) echo "usage: $0 [--debug] [single] [threads] [single-relaxed] [threads-relaxed]" >&2; exit 2 ;;
  esac
done
variants=${variants:-$all_variants}
variants=$(echo $variants)

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
command -v wasm-strip >/dev/null || missing+=(wabt)
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

# Every @_cdecl in the ABI files is exported, plus the reactor's initializer.
exports=$(grep -oh '@_cdecl("[a-z_0-9]*")' Sources/TinyLMWasm/*.swift | sed 's/@_cdecl("\(.*\)")/--export=\1/')
sources=$(find Sources/TinyLM Sources/TinyLMWasm -name '*.swift' | sort)

# The memory limits of the threaded module; web/threads.js creates its shared memory with the
# same numbers (MEMORY_PAGES there: 64 KiB pages).
mt_initial_memory=4194304
mt_max_memory=4294967296

compile() { # variant build-dir extra-flags...
  local variant=$1 build=$2; shift 2
  mkdir -p "$build"
  "$swiftc" -target wasm32-unknown-none-wasm -enable-experimental-feature Embedded \
    -enable-experimental-feature Extern -wmo \
    -parse-as-library -module-name TinyLM -D TINYLM_WASM_SINGLE_MODULE \
    -O -enforce-exclusivity=unchecked -Xfrontend -disable-stack-protector \
    -import-objc-header Sources/TinyLMIntrinsics/include/TinyLMIntrinsics.h \
    "$@" -c $sources -o "$build/tinylm.o"
}

link_and_optimize() { # variant build-dir output wasm-opt-flags -- wasm-ld-flags...
  local variant=$1 build=$2 out=$3 opt_flags=$4; shift 4
  "$wasm_ld" --no-entry $exports --export=_initialize \
    "$@" \
    "$wasi_lib/crt1-reactor.o" "$build/tinylm.o" \
    "$embedded_lib/libswiftUnicodeDataTables.a" \
    -L"$wasi_lib" -lc "$builtins" \
    -o "$build/tinylm.linked.wasm"
  if [ "$mode" = release ] && { [ "$variant" = "${variant%-relaxed}" ] || wasm_opt_knows_relaxed_simd; }; then
    wasm-opt -O3 --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
      --enable-mutable-globals $opt_flags --strip-debug "$build/tinylm.linked.wasm" -o "$out"
  elif [ "$mode" = release ]; then
    # Names and debug sections dropped without decoding the code (wabt).
    cp "$build/tinylm.linked.wasm" "$out"
    wasm-strip "$out"
  else
    cp "$build/tinylm.linked.wasm" "$out"
  fi
  local raw gz
  raw=$(stat -c %s "$out")
  gz=$(gzip -9 -c "$out" | wc -c)
  awk -v f="$out" -v r="$raw" -v g="$gz" 'BEGIN { printf "wrote %s: %d bytes (%.0f KiB), gzipped %d bytes (%.0f KiB)\n", f, r, r/1024, g, g/1024 }'
}

# Binaryen before version 116 reads relaxed SIMD with the pre-standard opcodes (Debian 12
# ships 108): the relaxed modules then stay as wasm-ld wrote them. (LLVM has optimized the
# code already; wasm-opt mostly shrinks it.)
wasm_opt_knows_relaxed_simd() {
  local version
  version=$(wasm-opt --version | grep -o '[0-9]\+' | head -1)
  [ "${version:-0}" -ge 116 ]
}

relaxed_flags=(-Xcc -mrelaxed-simd -D TINYLM_RELAXED_SIMD)

build_single() { # [relaxed]
  local suffix="" flags=() mattr=+simd128
  if [ "${1:-}" = relaxed ]; then suffix=-relaxed; flags=("${relaxed_flags[@]}"); mattr=$mattr,+relaxed-simd; fi
  compile single$suffix .build/wasm$suffix -Xcc -msimd128 -Xllvm -mattr=$mattr "${flags[@]}"
  # 1 MiB of stack; memory grows on demand (the model is copied in by the page).
  link_and_optimize single$suffix .build/wasm$suffix web/tinylm$suffix.wasm "${suffix:+--enable-relaxed-simd}" \
    -z stack-size=1048576 --initial-memory=4194304 --max-memory=4294967296
}

build_single-relaxed() { build_single relaxed; }
build_threads-relaxed() { build_threads relaxed; }

build_threads() { # [relaxed]
  local suffix="" flags=() mattr=+simd128,+atomics,+bulk-memory
  if [ "${1:-}" = relaxed ]; then suffix=-relaxed; flags=("${relaxed_flags[@]}"); mattr=$mattr,+relaxed-simd; fi
  compile threads$suffix .build/wasm-mt$suffix -Xcc -msimd128 -Xcc -matomics -Xcc -mbulk-memory \
    -Xllvm -mattr=$mattr "${flags[@]}"
  # Shared memory, imported (the helper workers instantiate the module on the same memory;
  # data segments become passive and __wasm_init_memory initializes them once, for the first
  # instance only). __stack_pointer is exported so each helper gets its own stack.
  # --no-check-features: Debian's wasi-libc objects were not compiled with atomics. That is
  # acceptable because only the engine thread ever calls into libc (malloc above all): the
  # helpers run nothing but kernel closures (Sources/TinyLMWasm/Threads.swift).
  link_and_optimize threads$suffix .build/wasm-mt$suffix web/tinylm-mt$suffix.wasm "--enable-threads${suffix:+ --enable-relaxed-simd}" \
    -z stack-size=1048576 --initial-memory=$mt_initial_memory --max-memory=$mt_max_memory \
    --shared-memory --import-memory --no-check-features --export=__stack_pointer
}

echo "compiling $(echo "$sources" | wc -l) Swift files for wasm32 (Embedded, SIMD128): $variants..."
mkdir -p .build
pids=()
for variant in $variants; do
  ( build_$variant ) > ".build/wasm-$variant.log" 2>&1 &
  pids+=($!)
done
status=0
for index in "${!pids[@]}"; do
  variant=$(echo $variants | cut -d' ' -f$((index + 1)))
  if wait "${pids[$index]}"; then
    grep -h '^wrote ' ".build/wasm-$variant.log" || true
  else
    status=1
    echo "error: the $variant build failed:" >&2
    cat ".build/wasm-$variant.log" >&2
  fi
done
exit $status
