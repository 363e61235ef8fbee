#!/usr/bin/env bash
# Type-checks the core (Sources/TinyLM) as Embedded Swift for wasm32: no Foundation, typed
# throws, no value-protocol existentials. Fails with the compiler's message otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
swiftc -target wasm32-unknown-none-wasm -enable-experimental-feature Embedded -enable-experimental-feature Extern -wmo \
  -parse-as-library -module-name TinyLM -typecheck \
  -Xcc -msimd128 -import-objc-header Sources/TinyLMIntrinsics/include/TinyLMIntrinsics.h \
  $(find Sources/TinyLM -name '*.swift' | sort)
echo "core type-checks as Embedded Swift for wasm32"
