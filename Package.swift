// swift-tools-version: 6.0
import PackageDescription
import Foundation

// Native builds use the host's vector units: AVX2 + FMA on x86-64 (every x86 CPU since 2013),
// NEON (with FMA) on arm64. The llama.cpp-order kernels then do their fused multiply-adds in
// hardware instead of emulating them in Double, and f16 scales convert with F16C/fcvtl
// instead of bit arithmetic. TINYLM_PORTABLE=1 builds for baseline x86-64
// (same results, slower).
let hostVectorSettings: [SwiftSetting] = {
    #if arch(x86_64)
    if ProcessInfo.processInfo.environment["TINYLM_PORTABLE"] != nil { return [] }
    return [.unsafeFlags(["-target-cpu", "haswell"]), .define("TINYLM_HARDWARE_FMA"), .define("TINYLM_HARDWARE_F16"),
            .define("TINYLM_X86_AVX2")]
    #elseif arch(arm64)
    return [.define("TINYLM_HARDWARE_FMA"), .define("TINYLM_HARDWARE_F16")]
    #else
    return []
    #endif
}()

// x86-64 native builds also compile the AVX-512/VNNI kernels, in a module of their own built
// for such a CPU (Swift has no per-function target attribute); the core calls them only after
// a runtime CPU check. Not in portable builds.
let avx512Kernels: Bool = {
    #if arch(x86_64)
    return ProcessInfo.processInfo.environment["TINYLM_PORTABLE"] == nil
    #else
    return false
    #endif
}()

// The core (TinyLM) must stay Embedded-Swift compatible: no Foundation, typed throws only,
// no existentials of non-class protocols. build-wasm.sh compiles the same sources for wasm32.
let package = Package(
    name: "TinyLM",
    products: [
        .library(name: "TinyLM", targets: ["TinyLM"]),
        .executable(name: "tinylm", targets: ["TinyLMCLI"]),
        .executable(name: "tinylm-fuzz", targets: ["TinyLMFuzz"]),
    ],
    targets: [
        // Inline wrappers for the few SIMD instructions Swift cannot spell (AVX2 byte dot
        // products, wasm's i32x4.dot_i16x8_s). Header only; no logic.
        .target(name: "TinyLMIntrinsics"),
        .target(
            name: "TinyLM",
            dependencies: ["TinyLMIntrinsics"] + (avx512Kernels ? ["TinyLMAVX512"] : []),
            // Extern: the C allocator, which reports failure (Generation/SessionMemory.swift).
            swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"]), .enableExperimentalFeature("Extern")] + hostVectorSettings
        ),
        // The AVX-512/VNNI kernels: compiled for a Cascade Lake-class CPU (AVX-512 F/BW/DQ/CD/VL,
        // VNNI), run only where tinylm_cpu_has_avx512_vnni() says so (Kernels/AVX512/).
        // Plain loops over rows the core has unpacked; no dependency on the core.
    ] + (avx512Kernels ? [
        .target(
            name: "TinyLMAVX512",
            dependencies: ["TinyLMIntrinsics"],
            swiftSettings: [.unsafeFlags(["-target-cpu", "cascadelake", "-enforce-exclusivity=unchecked"])]
        ),
    ] : []) + [
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
        // The native worker of scripts/fuzz.py: runs mutated GGUF files through the wasm module's
        // C ABI (compiled natively) and manifests through FileManifest, in one process.
        .executableTarget(
            name: "TinyLMFuzz",
            dependencies: ["TinyLM", "TinyLMWasm"]
        ),
        .testTarget(
            name: "TinyLMTests",
            dependencies: ["TinyLM", "TinyLMHost"]
        ),
    ]
)
