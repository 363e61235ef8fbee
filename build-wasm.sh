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
# The four modules are committed (a site owner copies web/ and needs no Swift toolchain), with
# web/wasm-build.json, the stamp a release build of all four writes: a SHA-256 over every input
# (the Swift sources, the intrinsics header, this script) and the toolchain versions, and each
# module's SHA-256. The build is deterministic and independent of the checkout's path, so
# anyone with the same toolchain gets the same bytes, and CI checks that they do.
#
#   ./build-wasm.sh                  release build of all four into web/, writes web/wasm-build.json
#   ./build-wasm.sh --status         do web/'s modules match the sources? (exit 0 if so; reads the
#                                    stamp and hashes files, needs no toolchain)
#   ./build-wasm.sh --check          rebuilds all four in a temporary folder and fails unless the
#                                    stamp is current and the bytes equal web/'s (CI runs this)
#   ./build-wasm.sh --check --update the same; on a mismatch it also puts the rebuilt modules and
#                                    stamp into web/ (and still fails, so that they get committed)
#   ./build-wasm.sh --debug          no wasm-opt, keeps names (for wasm-objdump); no stamp
#   ./build-wasm.sh VARIANT...       only those: single, threads, single-relaxed, threads-relaxed
#                                    (no stamp: it describes all four)
#
# Needs: swiftc 6.x with the Embedded stdlib for wasm32 (in the toolchain), wasm-ld (in the
# toolchain), and the Debian packages wasi-libc, libclang-rt-14-dev-wasm32, binaryen, wabt; run as
# root it installs missing packages itself.
set -euo pipefail
cd "$(dirname "$0")"
root=$(pwd)

mode=release
action=build # build | status | check
update=false
all_variants="single threads single-relaxed threads-relaxed"
variants=""
for argument in "$@"; do
  case "$argument" in
    --debug) mode=debug ;;
    --status) action=status ;;
    --check) action=check ;;
    --update) update=true ;;
    single|threads|single-relaxed|threads-relaxed) variants="$variants $argument" ;;
    --single) variants="$variants single" ;;
    --threads) variants="$variants threads" ;;
    *) echo "usage: $0 [--status | --check [--update] | --debug] [single] [threads] [single-relaxed] [threads-relaxed]" >&2; exit 2 ;;
  esac
done
variants=${variants:-$all_variants}
variants=$(echo $variants)

stamp=web/wasm-build.json
module_file() { # variant → file name in web/
  case "$1" in
    single) echo tinylm.wasm ;; threads) echo tinylm-mt.wasm ;;
    single-relaxed) echo tinylm-relaxed.wasm ;; threads-relaxed) echo tinylm-mt-relaxed.wasm ;;
  esac
}

# --- the stamp ------------------------------------------------------------------------------

# Every file the modules are built from, relative to the repository root, in one fixed order.
input_files() {
  { find Sources/TinyLM Sources/TinyLMWasm -name '*.swift'
    echo Sources/TinyLMIntrinsics/include/TinyLMIntrinsics.h
    echo build-wasm.sh
  } | LC_ALL=C sort
}

# SHA-256 over "hash  path" lines of every input: changes whenever any source changes.
sources_digest() {
  input_files | tr '\n' '\0' | xargs -0 sha256sum | sha256sum | cut -d' ' -f1
}

file_digest() { sha256sum "$1" | cut -d' ' -f1; }

# A value from the stamp (its fixed one-key-per-line layout, written by write_stamp).
stamp_value() { # file key
  sed -n "s/^ *\"$2\": \"\\(.*\\)\",\\{0,1\\}$/\\1/p" "$1" | head -1
}

# Exit status 0 when web/'s modules are what the stamp says and the stamp matches the sources.
status() {
  if [ ! -f "$stamp" ]; then echo "no $stamp: the modules were never built here (./build-wasm.sh)"; return 1; fi
  local expected actual file
  expected=$(stamp_value "$stamp" sources)
  actual=$(sources_digest)
  if [ "$expected" != "$actual" ]; then
    echo "$stamp is stale: the Swift sources, the intrinsics header or build-wasm.sh changed since the modules were built"
    return 1
  fi
  for variant in $all_variants; do
    file=$(module_file "$variant")
    if [ ! -f "web/$file" ]; then echo "web/$file is missing"; return 1; fi
    if [ "$(file_digest "web/$file")" != "$(stamp_value "$stamp" "$file")" ]; then
      echo "web/$file is not the module $stamp describes"
      return 1
    fi
  done
  echo "web/*.wasm match the sources ($stamp, built with $(stamp_value "$stamp" swiftc))"
}

if [ "$action" = status ]; then status; exit; fi

# --- the toolchain --------------------------------------------------------------------------

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

package_version() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null || echo unknown; }
swiftc_version=$("$swiftc" --version 2>/dev/null | head -1)
wasm_opt_version=$(wasm-opt --version | head -1)
wasi_libc_version=$(package_version wasi-libc)
builtins_version=$(package_version libclang-rt-14-dev-wasm32)

# Every @_cdecl in the ABI files is exported, plus the reactor's initializer.
exports=$(grep -oh '@_cdecl("[a-z_0-9]*")' Sources/TinyLMWasm/*.swift | sed 's/@_cdecl("\(.*\)")/--export=\1/')
sources=$(find Sources/TinyLM Sources/TinyLMWasm -name '*.swift' | LC_ALL=C sort)

# The memory limits of the threaded module; web/threads.js creates its shared memory with the
# same numbers (MEMORY_PAGES there: 64 KiB pages).
mt_initial_memory=4194304
mt_max_memory=4294967296

# Where the modules go: web/, or a temporary folder for --check.
out_dir=web
if [ "$action" = check ]; then
  [ "$mode" = release ] && [ "$variants" = "$all_variants" ] || { echo "error: --check rebuilds all four release modules; it takes no other options" >&2; exit 2; }
  out_dir=$(mktemp -d "${TMPDIR:-/tmp}/tinylm-wasm-check.XXXXXX")
  trap 'rm -rf "$out_dir"' EXIT
fi

progress() { echo "$*" >&3; } # a line for the person waiting (the variant's log gets the rest)

compile() { # variant build-dir extra-flags...
  local variant=$1 build=$2; shift 2
  mkdir -p "$build"
  echo compiling > "$build.phase"
  progress "  $(module_file "$variant"): compiling"
  # The checkout's path must not reach the module: sources and the object are named relative
  # to the root, and -file-prefix-map rewrites whatever absolute path the compiler still sees
  # (#file in messages, the header's path), so two clones at different paths build the same bytes.
  "$swiftc" -target wasm32-unknown-none-wasm -enable-experimental-feature Embedded \
    -enable-experimental-feature Extern -wmo \
    -parse-as-library -module-name TinyLM -D TINYLM_WASM_SINGLE_MODULE \
    -O -enforce-exclusivity=unchecked -Xfrontend -disable-stack-protector \
    -file-prefix-map "$root=." -Xcc "-ffile-prefix-map=$root=." \
    -import-objc-header Sources/TinyLMIntrinsics/include/TinyLMIntrinsics.h \
    "$@" -c $sources -o "$build/tinylm.o"
}

# swiftc writes a hash of the module's LLVM bitcode into each object (the .swift_modhash data
# segment, for its incremental builds), and that bitcode is not reproducible: two compiles of
# the same sources gave the same code but a different hash now and then (the -o path goes into
# it too). The module never reads it, so it is zeroed before linking: then the bytes of the
# module depend on the sources and the toolchain only.
clear_module_hash() { # object file
  python3 - "$1" <<'PY'
import sys

path = sys.argv[1]
data = bytearray(open(path, 'rb').read())

def leb(at):
    value = shift = 0
    while True:
        byte = data[at]; at += 1
        value |= (byte & 0x7f) << shift; shift += 7
        if byte < 0x80: return value, at

sections, at = {}, 8
while at < len(data):
    kind, at = data[at], at + 1
    size, at = leb(at)
    if kind == 0:
        length, name_at = leb(at)
        sections[data[name_at:name_at + length].decode()] = (name_at + length, at + size)
    else:
        sections[kind] = (at, at + size)
    at += size

# The linking section's segment names give the index of .swift_modhash.
at, end = sections['linking']
at = leb(at)[1]  # version
index = None
while at < end:
    kind, at = data[at], at + 1
    size, at = leb(at)
    if kind == 5:  # WASM_SEGMENT_INFO
        count, p = leb(at)
        for i in range(count):
            length, p = leb(p)
            if data[p:p + length] == b'.swift_modhash': index = i
            p = leb(leb(p + length)[1])[1]  # alignment, flags
    at += size
if index is None: sys.exit(f'{path}: no .swift_modhash segment')

at, _ = sections[11]  # the data section
count, at = leb(at)
for i in range(count):
    flags, at = leb(at)
    if flags == 2: at = leb(at)[1]  # memory index
    if flags != 1:  # an active segment: skip its offset expression up to `end`
        while data[at] != 0x0b: at += 1
        at += 1
    size, at = leb(at)
    if i == index:
        if size != 16: sys.exit(f'{path}: .swift_modhash has {size} bytes, not 16')
        data[at:at + size] = bytes(size)
        break
    at += size
open(path, 'wb').write(data)
PY
}

link_and_optimize() { # variant build-dir output wasm-opt-flags -- wasm-ld-flags...
  local variant=$1 build=$2 out=$3 opt_flags=$4; shift 4
  echo linking > "$build.phase"
  progress "  $(module_file "$variant"): compiled in $(elapsed), linking"
  clear_module_hash "$build/tinylm.o"
  "$wasm_ld" --no-entry $exports --export=_initialize \
    "$@" \
    "$wasi_lib/crt1-reactor.o" "$build/tinylm.o" \
    "$embedded_lib/libswiftUnicodeDataTables.a" \
    -L"$wasi_lib" -lc "$builtins" \
    -o "$build/tinylm.linked.wasm"
  echo optimizing > "$build.phase"
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
  echo done > "$build.phase"
  progress "  $(module_file "$variant"): done in $(elapsed)"
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
# Every build, --check included, compiles to the same relative paths (see clear_module_hash).
build_root=.build/wasm

build_single() { # [relaxed]
  local suffix="" flags=() mattr=+simd128
  if [ "${1:-}" = relaxed ]; then suffix=-relaxed; flags=("${relaxed_flags[@]}"); mattr=$mattr,+relaxed-simd; fi
  compile single$suffix $build_root/single$suffix -Xcc -msimd128 -Xllvm -mattr=$mattr "${flags[@]}"
  # 1 MiB of stack; memory grows on demand (the model is copied in by the page).
  link_and_optimize single$suffix $build_root/single$suffix $out_dir/tinylm$suffix.wasm "${suffix:+--enable-relaxed-simd}" \
    -z stack-size=1048576 --initial-memory=4194304 --max-memory=4294967296
}

build_single-relaxed() { build_single relaxed; }
build_threads-relaxed() { build_threads relaxed; }

build_threads() { # [relaxed]
  local suffix="" flags=() mattr=+simd128,+atomics,+bulk-memory
  if [ "${1:-}" = relaxed ]; then suffix=-relaxed; flags=("${relaxed_flags[@]}"); mattr=$mattr,+relaxed-simd; fi
  compile threads$suffix $build_root/threads$suffix -Xcc -msimd128 -Xcc -matomics -Xcc -mbulk-memory \
    -Xllvm -mattr=$mattr "${flags[@]}"
  # Shared memory, imported (the helper workers instantiate the module on the same memory;
  # data segments become passive and __wasm_init_memory initializes them once, for the first
  # instance only). __stack_pointer is exported so each helper gets its own stack.
  # --no-check-features: Debian's wasi-libc objects were not compiled with atomics. That is
  # acceptable because only the engine thread ever calls into libc (malloc above all): the
  # helpers run nothing but kernel closures (Sources/TinyLMWasm/Threads.swift).
  link_and_optimize threads$suffix $build_root/threads$suffix $out_dir/tinylm-mt$suffix.wasm "--enable-threads${suffix:+ --enable-relaxed-simd}" \
    -z stack-size=1048576 --initial-memory=$mt_initial_memory --max-memory=$mt_max_memory \
    --shared-memory --import-memory --no-check-features --export=__stack_pointer
}

write_stamp() { # folder holding the four modules → its stamp
  local folder=$1 digest
  digest=$(sources_digest)
  {
    echo '{'
    echo '  "about": "Written by ./build-wasm.sh. ./build-wasm.sh --check rebuilds the modules and compares; --status compares sources.",'
    echo "  \"sources\": \"$digest\","
    echo "  \"swiftc\": \"$swiftc_version\","
    echo "  \"wasm-opt\": \"$wasm_opt_version\","
    echo "  \"wasi-libc\": \"$wasi_libc_version\","
    echo "  \"clang-rt-builtins\": \"$builtins_version\","
    echo "  \"inputs\": \"$(printf '%s\n' "$digest" "$swiftc_version" "$wasm_opt_version" "$wasi_libc_version" "$builtins_version" | sha256sum | cut -d' ' -f1)\","
    local first=true variant file
    echo '  "modules": {'
    for variant in $all_variants; do
      file=$(module_file "$variant")
      $first || echo ','
      first=false
      printf '    "%s": "%s"' "$file" "$(file_digest "$folder/$file")"
    done
    echo
    echo '  }'
    echo '}'
  } > "$folder/wasm-build.json"
}

# How long a build of $variants took last time on this machine (seconds), for the estimate.
timing_file=.build/wasm-build-seconds
estimate() {
  local cores seconds
  cores=$(nproc 2>/dev/null || echo 2)
  seconds=$(grep "^$variants=" "$timing_file" 2>/dev/null | tail -1 | cut -d= -f2 || true)
  if [ -n "$seconds" ]; then echo "about $(( (seconds + 59) / 60 )) min (the last build here took ${seconds}s)"
  else
    # Measured: all four take ~5 CPU-minutes each at -O and compile side by side.
    local count
    count=$(echo $variants | wc -w)
    echo "about $(( (count * 5 + cores - 1) / cores + 1 )) min on $cores cores"
  fi
}

started=$(date +%s)
elapsed() { local s=$(( $(date +%s) - started )); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

mkdir -p .build $build_root
echo "compiling $(echo "$sources" | wc -l) Swift files for wasm32 (Embedded, SIMD128) into $out_dir/: $variants"
echo "  the modules compile side by side; $(estimate)"
pids=()
for variant in $variants; do
  ( build_$variant ) 3>&1 > "$build_root/$variant.log" 2>&1 &
  pids+=($!)
done

# A line every 30 s says what each module is doing, so a long build never looks stuck.
while :; do
  running=0
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && running=$((running + 1)); done
  [ "$running" -gt 0 ] || break
  for _ in $(seq 30); do
    sleep 1
    running=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && running=$((running + 1)); done
    [ "$running" -gt 0 ] || break
  done
  [ "$running" -gt 0 ] || break
  line=""
  for variant in $variants; do line="$line $(module_file "$variant") $(cat "$build_root/$variant.phase" 2>/dev/null || echo waiting);"; done
  echo "  $(elapsed):${line%;}"
done

status=0
for index in "${!pids[@]}"; do
  variant=$(echo $variants | cut -d' ' -f$((index + 1)))
  if wait "${pids[$index]}"; then
    grep -h '^wrote ' "$build_root/$variant.log" || true
  else
    status=1
    echo "error: the $variant build failed:" >&2
    cat "$build_root/$variant.log" >&2
  fi
done
[ "$status" = 0 ] || exit "$status"
echo "built in $(elapsed)"
[ "$mode" = release ] && echo "$variants=$(( $(date +%s) - started ))" >> "$timing_file"

if [ "$action" = build ]; then
  if [ "$mode" = release ] && [ "$variants" = "$all_variants" ]; then
    write_stamp web
    echo "wrote $stamp"
  elif [ -f "$stamp" ]; then
    echo "note: $stamp describes all four release modules; ./build-wasm.sh (no options) updates it"
  fi
  exit 0
fi

# --check: the rebuilt bytes against the committed ones.
write_stamp "$out_dir"
problems=()
if [ ! -f "$stamp" ]; then
  problems+=("there is no $stamp")
else
  [ "$(stamp_value "$stamp" sources)" = "$(stamp_value "$out_dir/wasm-build.json" sources)" ] ||
    problems+=("$stamp is stale: the sources changed since it was written")
  for key in swiftc wasm-opt wasi-libc clang-rt-builtins; do
    committed=$(stamp_value "$stamp" "$key")
    here=$(stamp_value "$out_dir/wasm-build.json" "$key")
    [ "$committed" = "$here" ] || echo "note: the committed modules were built with $key '$committed', this machine has '$here'"
  done
fi
for variant in $all_variants; do
  file=$(module_file "$variant")
  if [ ! -f "web/$file" ]; then problems+=("web/$file is missing")
  elif ! cmp -s "web/$file" "$out_dir/$file"; then problems+=("web/$file differs from the module the sources build")
  elif [ -f "$stamp" ] && [ "$(stamp_value "$stamp" "$file")" != "$(file_digest "web/$file")" ]; then
    problems+=("$stamp does not describe web/$file")
  fi
done
if [ ${#problems[@]} -eq 0 ]; then
  echo "ok: the committed web/*.wasm are exactly what the sources build ($stamp is current)"
  exit 0
fi
{
  echo "error: the committed wasm modules do not match the sources:"
  printf '  - %s\n' "${problems[@]}"
  echo "run ./build-wasm.sh and commit web/*.wasm web/wasm-build.json"
} >&2
if $update; then
  for variant in $all_variants; do cp "$out_dir/$(module_file "$variant")" web/; done
  cp "$out_dir/wasm-build.json" "$stamp"
  echo "(--update: the rebuilt modules and stamp are in web/ now; commit them)" >&2
fi
exit 1
