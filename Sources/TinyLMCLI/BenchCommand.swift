import Foundation
import TinyLM
import TinyLMHost

/// `tinylm bench`: prompt processing (pp) and generation (tg) speed in tokens/s, like
/// llama-bench: pp evaluates a P-token prompt from an empty cache; tg evaluates N tokens one
/// at a time. Each test repeats; the table shows mean ± standard deviation.
func runBench(_ arguments: [String]) throws -> Int32 {
    let a = try Arguments(arguments, valued: ["--model", "-p", "-n", "-t", "--threads", "-r", "--repetitions"], flags: ["--no-avx512"])
    // The AVX-512/VNNI prompt kernels are used where the CPU has them; this compares without.
    if a.has("--no-avx512") { MatrixMultiply.allowsAVX512 = false }
    let promptLength = try a.int("-p", default: 128)
    let generateLength = try a.int("-n", default: 128)
    let repetitions = max(1, try a.int("-r", default: try a.int("--repetitions", default: 3)))
    let threadList = (a.value("-t") ?? a.value("--threads") ?? "1,\(defaultThreadCount())")
        .split(separator: ",").compactMap { Int($0) }.reduce(into: [Int]()) { if !$0.contains($1) { $0.append($1) } }
    let loaded = try LoadedModel(path: a.value("--model"))
    let model = loaded.model
    let c = model.config
    print("model: \(model.displayName) (\(c.architecture.name)), \(formatBytes(loaded.file.bytes.count)), weights read per token \(formatBytes(model.weightBytesPerToken))")
    print(String(format: "load: %.1f ms (mmap + parse + tokenizer)", loaded.loadSeconds * 1000))
    print("| threads | test | t/s | ms/token |")
    print("|---|---|---|---|")
    // Deterministic pseudo-random prompt tokens (avoiding special ids at the start of the vocab).
    var random = SeededRandom(seed: 42)
    let prompt = (0..<promptLength).map { _ in Int32(1000 + Int(random.next() % UInt64(c.vocabularySize - 1000))) }
    for threads in threadList {
        let executor = makeExecutor(threads: threads)
        let session: Session
        do { session = try Session(model: model, contextLength: max(promptLength, generateLength) + 8, executor: executor) }
        catch { throw CLIError(description: error.message) }
        if promptLength > 0 {
            let rates = try measure(repetitions) {
                session.reset()
                try session.evaluate(prompt)
            }.map { Double(promptLength) / $0 }
            report(threads, "pp\(promptLength)", rates)
        }
        if generateLength > 0 {
            let rates = try measure(repetitions) {
                session.reset()
                var token: Int32 = prompt.first ?? 1000
                for _ in 0..<generateLength {
                    try session.evaluate([token])
                    token = Sampler.argmax(session.logits.baseAddress!, count: c.vocabularySize)
                }
            }.map { Double(generateLength) / $0 }
            report(threads, "tg\(generateLength)", rates)
        }
        if let pool = executor as? ThreadPool { pool.shutdown() }
    }
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    print("peak RSS: \(formatBytes(usage.ru_maxrss * 1024))")
    return 0
}

private func measure(_ repetitions: Int, _ body: () throws -> Void) throws -> [Double] {
    do {
        try body()  // warm-up: page in the weights, settle the threads
        var seconds: [Double] = []
        for _ in 0..<repetitions {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            seconds.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return seconds
    } catch let error as TinyLMError {
        throw CLIError(description: error.message)
    }
}

private func report(_ threads: Int, _ test: String, _ rates: [Double]) {
    let mean = rates.reduce(0, +) / Double(rates.count)
    let variance = rates.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(max(1, rates.count - 1))
    print(String(format: "| %d | %@ | %.1f ± %.1f | %.2f |", threads, test, mean, variance.squareRoot(), 1000 / mean))
}
