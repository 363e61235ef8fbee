// swift-tools-version: 6.0
import PackageDescription

// The core (TinyLM) must stay Embedded-Swift compatible: no Foundation, typed throws only,
// no existentials of non-class protocols. build-wasm.sh compiles the same sources for wasm32.
let package = Package(
    name: "TinyLM",
    products: [
        .library(name: "TinyLM", targets: ["TinyLM"]),
        .executable(name: "tinylm", targets: ["TinyLMCLI"]),
    ],
    targets: [
        .target(
            name: "TinyLM",
            swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"])]
        ),
        // Native-only services the core asks for through protocols: memory-mapped files and a
        // thread pool. Used by the CLI and the tests; the browser has its own (web/).
        .target(
            name: "TinyLMHost",
            dependencies: ["TinyLM"]
        ),
        // The C ABI of the wasm module. build-wasm.sh compiles it together with the core for
        // wasm32; natively it builds as a library so the ABI is type-checked and testable.
        .target(
            name: "TinyLMWasm",
            dependencies: ["TinyLM"]
        ),
        .executableTarget(
            name: "TinyLMCLI",
            dependencies: ["TinyLM", "TinyLMHost"]
        ),
        .testTarget(
            name: "TinyLMTests",
            dependencies: ["TinyLM", "TinyLMHost"]
        ),
    ]
)
