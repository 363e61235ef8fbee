// The kernels of every quantized weight format, by instruction set, and the one place that
// picks which runs. Each format has a scalar reference that states llama.cpp's float orders as
// plain loops (Formats/<Format>.swift, `<Format>.Reference`; SummationOrder.swift says which
// order each token takes); every other kernel computes the same integers and repeats those
// float steps exactly, so all of them give the reference's bits (KernelTableTests checks each
// against the reference, the model tests check the whole against llama.cpp). A kernel for
// format F and instruction set I is `F.I` in Kernels/<I>/<F>+<I>.swift; what formats of a set
// share is in Kernels/<I>/<I>Lanes.swift, with the drivers of the 32-value formats in
// <I>Block32.swift and of the K-quants in <I>SuperBlock.swift.
//
//          reference   SIMD128 (wasm;      AVX2 (x86-64        AVX-512/VNNI      wasm relaxed SIMD
//          (scalar)    portable native)    native build)       (batches)
//   Q4_0   Q4_0.swift  Q4_0+SIMD128        Q4_0+AVX2           Block32+AVX512    SIMD128
//   Q4_1   Q4_1.swift  Q4_1+SIMD128        Q4_1+AVX2           Block32+AVX512    Q4_1+WasmRelaxed
//   Q5_0   Q5_0.swift  Q5_0+SIMD128        Q5_0+AVX2           Block32+AVX512    Q5_0+WasmRelaxed
//   Q5_1   Q5_1.swift  Q5_1+SIMD128        Q5_1+AVX2           Block32+AVX512    SIMD128
//   Q8_0   Q8_0.swift  Q8_0+SIMD128        Q8_0+AVX2           Block32+AVX512    Q8_0+WasmRelaxed
//   Q2_K   Q2_K.swift  Q2_K+SIMD128        Q2_K+AVX2           SuperBlock+AVX512 Q2_K+WasmRelaxed
//   Q3_K   Q3_K.swift  Q3_K+SIMD128        Q3_K+AVX2           SuperBlock+AVX512 Q3_K+WasmRelaxed
//   Q4_K   Q4_K.swift  Q4_K+SIMD128        Q4_K+AVX2           SuperBlock+AVX512 Q4_K+WasmRelaxed
//   Q5_K   Q5_K.swift  Q5_K+SIMD128        Q5_K+AVX2           SuperBlock+AVX512 Q5_K+WasmRelaxed
//   Q6_K   Q6_K.swift  Q6_K+SIMD128        Q6_K+AVX2           SuperBlock+AVX512 Q6_K+WasmRelaxed
// A cell naming another set runs that set's kernel. The AVX-512/VNNI kernels are one per
// layout, not per format (Sources/TinyLMAVX512/<Layout>+AVX512.swift: loops over rows the
// formats' AVX2 code unpacked, Kernels/AVX512/AVX512Kernels.swift); they run prompt batches
// where the CPU has AVX-512 with VNNI (checked at run time), the AVX2 kernels the rest. Inside a kernel, the rows of a last group
// smaller than the kernel's (AVX2: four rows; relaxed: two, K-quants four) and the orders it lacks go to the
// SIMD128 kernel, which takes any rows and every order. The float formats (F32, F16, BF16)
// are in MatrixMultiply.swift. The IQ formats have no kernels: a model using one is refused at
// load time with the format's name (WeightLoader).

/// An instruction set the kernels are written for.
enum KernelISA: CaseIterable {
    /// The scalar references: plain loops, no vectors.
    case reference
    /// Swift's SIMD types on 128-bit vectors: wasm SIMD128, and SSE2 in portable native builds.
    case simd128
    /// x86-64 AVX2 + FMA + F16C (the native build's baseline).
    case avx2
    /// x86-64 AVX-512 (F, BW, DQ, VL) with VNNI, where the CPU has it: prompt batches in the
    /// TinyLMAVX512 module (Kernels/AVX512/AVX512Kernels.swift), the rest as AVX2.
    case avx512
    /// wasm with relaxed SIMD (the tinylm-relaxed*.wasm modules).
    case wasmRelaxed
}

enum KernelTable {
    /// Whether this build has `isa`'s kernels.
    static func has(_ isa: KernelISA) -> Bool {
        switch isa {
        case .reference, .simd128: return true
        case .avx2:
            #if TINYLM_X86_AVX2
            return true
            #else
            return false
            #endif
        case .avx512:
            #if canImport(TinyLMAVX512) && TINYLM_X86_AVX2
            return AVX512Kernels.available
            #else
            return false
            #endif
        case .wasmRelaxed:
            #if TINYLM_RELAXED_SIMD
            return true
            #else
            return false
            #endif
        }
    }

    /// The instruction set this build runs on this machine.
    static var preferred: KernelISA {
        #if TINYLM_X86_AVX2
        return MatrixMultiply.allowsAVX512 && has(.avx512) ? .avx512 : .avx2
        #elseif TINYLM_RELAXED_SIMD
        return .wasmRelaxed
        #else
        return .simd128
        #endif
    }

    /// Rows `rows` of the job's weight times every token of the pass, with the preferred
    /// instruction set's kernel. `chunk`: this call's chunk of the multiply
    /// (`ComputeExecutor.parallelChunks`), which picks its unpacking slot in the scratch.
    @inline(__always)
    static func multiply(_ job: KernelJob, rows: Range<Int>, chunk: Int) {
        multiply(job, rows: rows, chunk: chunk, isa: preferred)
    }

    /// The same with `isa`'s kernel (which this build must have). One function per column of
    /// the table above, one line per format; a column without a format's kernel runs SIMD128's.
    static func multiply(_ job: KernelJob, rows: Range<Int>, chunk: Int, isa: KernelISA) {
        switch isa {
        case .reference: referenceKernel(job, rows)
        #if TINYLM_X86_AVX2
        case .avx2: avx2Kernel(job, rows)
        #endif
        #if canImport(TinyLMAVX512) && TINYLM_X86_AVX2
        case .avx512: avx512Kernel(job, rows)
        #endif
        #if TINYLM_RELAXED_SIMD
        case .wasmRelaxed: wasmRelaxedKernel(job, rows, chunk)
        #endif
        default: simd128Kernel(job, rows, chunk)
        }
    }

    static func referenceKernel(_ job: KernelJob, _ rows: Range<Int>) {
        switch job.weight.type {
        case .q4_0: reference(job, rows, Q4_0.Reference.dot)
        case .q4_1: reference(job, rows, Q4_1.Reference.dot)
        case .q5_0: reference(job, rows, Q5_0.Reference.dot)
        case .q5_1: reference(job, rows, Q5_1.Reference.dot)
        case .q8_0: reference(job, rows, Q8_0.Reference.dot)
        case .q2_K: reference(job, rows, Q2_K.Reference.dot)
        case .q3_K: reference(job, rows, Q3_K.Reference.dot)
        case .q4_K: reference(job, rows, Q4_K.Reference.dot)
        case .q5_K: reference(job, rows, Q5_K.Reference.dot)
        case .q6_K: reference(job, rows, Q6_K.Reference.dot)
        default: noKernel()
        }
    }

    static func simd128Kernel(_ job: KernelJob, _ rows: Range<Int>, _ chunk: Int) {
        switch job.weight.type {
        case .q4_0: Q4_0.SIMD128.multiply(job, rows: rows)
        case .q4_1: Q4_1.SIMD128.multiply(job, rows: rows, chunk: chunk)
        case .q5_0: Q5_0.SIMD128.multiply(job, rows: rows, chunk: chunk)
        case .q5_1: Q5_1.SIMD128.multiply(job, rows: rows, chunk: chunk)
        case .q8_0: Q8_0.SIMD128.multiply(job, rows: rows, chunk: chunk)
        case .q2_K: Q2_K.SIMD128.multiply(job, rows: rows)
        case .q3_K: Q3_K.SIMD128.multiply(job, rows: rows)
        case .q4_K: Q4_K.SIMD128.multiply(job, rows: rows)
        case .q5_K: Q5_K.SIMD128.multiply(job, rows: rows)
        case .q6_K: Q6_K.SIMD128.multiply(job, rows: rows)
        default: noKernel()
        }
    }

    #if TINYLM_X86_AVX2
    static func avx2Kernel(_ job: KernelJob, _ rows: Range<Int>) {
        switch job.weight.type {
        case .q4_0: Q4_0.AVX2.multiply(job, rows: rows)
        case .q4_1: Q4_1.AVX2.multiply(job, rows: rows)
        case .q5_0: Q5_0.AVX2.multiply(job, rows: rows)
        case .q5_1: Q5_1.AVX2.multiply(job, rows: rows)
        case .q8_0: Q8_0.AVX2.multiply(job, rows: rows)
        case .q2_K: Q2_K.AVX2.multiply(job, rows: rows)
        case .q3_K: Q3_K.AVX2.multiply(job, rows: rows)
        case .q4_K: Q4_K.AVX2.multiply(job, rows: rows)
        case .q5_K: Q5_K.AVX2.multiply(job, rows: rows)
        case .q6_K: Q6_K.AVX2.multiply(job, rows: rows)
        default: noKernel()
        }
    }
    #endif

    #if canImport(TinyLMAVX512) && TINYLM_X86_AVX2
    /// The layouts' AVX-512 kernels over the formats' AVX2 unpacking; what they leave goes to
    /// SIMD128 (the closures).
    static func avx512Kernel(_ job: KernelJob, _ rows: Range<Int>) {
        switch job.weight.type {
        case .q4_0: AVX512Kernels.multiply(Q4_0.AVX2.self, job, rows: rows) { Q4_0.SIMD128.multiply(job, rows: $0) }
        case .q4_1: AVX512Kernels.multiply(Q4_1.AVX2.self, job, rows: rows) { Q4_1.SIMD128.multiply(job, rows: $0) }
        case .q5_0: AVX512Kernels.multiply(Q5_0.AVX2.self, job, rows: rows) { Q5_0.SIMD128.multiply(job, rows: $0) }
        case .q5_1: AVX512Kernels.multiply(Q5_1.AVX2.self, job, rows: rows) { Q5_1.SIMD128.multiply(job, rows: $0) }
        case .q8_0: AVX512Kernels.multiply(Q8_0.AVX2.self, job, rows: rows) { Q8_0.SIMD128.multiply(job, rows: $0) }
        case .q2_K: AVX512Kernels.multiply(Q2_K.AVX2.self, .q2_K, job, rows: rows) { Q2_K.SIMD128.multiply($0, rows: $1) }
        case .q3_K: AVX512Kernels.multiply(Q3_K.AVX2.self, .q3_K, job, rows: rows) { Q3_K.SIMD128.multiply($0, rows: $1) }
        case .q4_K: AVX512Kernels.multiply(Q4_K.AVX2.self, .q4_K, job, rows: rows) { Q4_K.SIMD128.multiply($0, rows: $1) }
        case .q5_K: AVX512Kernels.multiply(Q5_K.AVX2.self, .q5_K, job, rows: rows) { Q5_K.SIMD128.multiply($0, rows: $1) }
        case .q6_K: AVX512Kernels.multiply(Q6_K.AVX2.self, .q6_K, job, rows: rows) { Q6_K.SIMD128.multiply($0, rows: $1) }
        default: noKernel()
        }
    }
    #endif

    #if TINYLM_RELAXED_SIMD
    static func wasmRelaxedKernel(_ job: KernelJob, _ rows: Range<Int>, _ chunk: Int) {
        switch job.weight.type {
        case .q4_1: Q4_1.WasmRelaxed.multiply(job, rows: rows, chunk: chunk)
        case .q5_0: Q5_0.WasmRelaxed.multiply(job, rows: rows, chunk: chunk)
        case .q8_0: Q8_0.WasmRelaxed.multiply(job, rows: rows, chunk: chunk)
        case .q2_K: Q2_K.WasmRelaxed.multiply(job, rows: rows, chunk: chunk)
        case .q3_K: Q3_K.WasmRelaxed.multiply(job, rows: rows, chunk: chunk)
        case .q4_K: Q4_K.WasmRelaxed.multiply(job, rows: rows, chunk: chunk)
        case .q5_K: Q5_K.WasmRelaxed.multiply(job, rows: rows, chunk: chunk)
        case .q6_K: Q6_K.WasmRelaxed.multiply(job, rows: rows, chunk: chunk)
        default: simd128Kernel(job, rows, chunk)
        }
    }
    #endif

    static func noKernel() -> Never {
        preconditionFailure("KernelTable: no kernel for this tensor type")
    }

    /// A scalar reference run row by row, token by token.
    static func reference(_ job: KernelJob, _ rows: Range<Int>,
                          _ dot: (UnsafeRawPointer, Int, Q8Activations, SummationOrder) -> Float) {
        for t in 0..<job.batch {
            let act = job.activations(t), order = job.order(ofToken: t)
            for r in rows { job.results(t, r)[0] = dot(job.row(r), job.blocks, act, order) }
        }
    }
}
