import Foundation
import TinyLM
import TinyLMHost

/// `tinylm bench`: prompt processing (pp) and generation (tg) speed in tokens/s, like
/// llama-bench: pp evaluates a P-token prompt, tg evaluates N tokens one at a time, each after
/// `-d` tokens already in the cache (default 0: an empty cache; the fill is not timed). Each test
/// repeats; the table shows mean ± standard deviation, tests named as llama-bench names them
/// ("pp128", "tg128 @ d1024"). With LoRA adapters (--lora, --lora-scaled) every test also runs
/// with them, alternating with the plain run repetition by repetition (so both see the same
/// machine load), and a last column gives the ratio.
func runBench(_ arguments: [String]) throws -> Int32 {
    let a = try Arguments(arguments, valued: Set(["--model", "-p", "-n", "-t", "--threads", "-r", "--repetitions", "-d", "--n-depth"])
                            .union(AdapterFlags.valued),
                          flags: ["--no-avx512"])
    // The AVX-512/VNNI prompt kernels are used where the CPU has them; this compares without.
    if a.has("--no-avx512") { MatrixMultiply.allowsAVX512 = false }
    let promptLength = try a.int("-p", default: 128)
    let generateLength = try a.int("-n", default: 128)
    let repetitions = max(1, try a.int("-r", default: try a.int("--repetitions", default: 3)))
    let threadList = try numberList(a.value("-t") ?? a.value("--threads") ?? "1,\(defaultThreadCount())", "-t", minimum: 1)
    let depths = try numberList(a.value("-d") ?? a.value("--n-depth") ?? "0", "-d", minimum: 0)
    let loaded = try LoadedModel(path: a.value("--model"))
    let model = loaded.model
    let c = model.config
    print("model: \(model.displayName) (\(c.architecture.name)), \(formatBytes(loaded.file.bytes.count)), weights read per token \(formatBytes(model.weightBytesPerToken))")
    print(String(format: "load: %.1f ms (mmap + parse + tokenizer)", loaded.loadSeconds * 1000))
    let adapters = try AdapterFlags.load(a, for: loaded)
    for use in adapters {
        print("adapter: \(use.adapter.adaptedMatrixCount) matrices, rank \(use.adapter.maxRank), alpha \(use.adapter.alpha), "
              + "\(formatBytes(use.adapter.weightBytes)), scale \(use.scale)")
    }
    if adapters.isEmpty {
        print("| threads | test | t/s | ms/token |")
        print("|---|---|---|---|")
    } else {
        print("| threads | test | t/s | ms/token | with / without |")
        print("|---|---|---|---|---|")
    }
    // Deterministic pseudo-random tokens (avoiding special ids at the start of the vocab).
    var random = SeededRandom(seed: 42)
    let randomTokens = { (count: Int) in (0..<count).map { _ in Int32(1000 + Int(random.next() % UInt64(c.vocabularySize - 1000))) } }
    let prompt = randomTokens(promptLength)
    let context = randomTokens(depths.max() ?? 0)
    for threads in threadList {
        let executor = makeExecutor(threads: threads)
        // The plain session, and one with the adapters when there are any.
        var sessions: [Session] = []
        do {
            for list in adapters.isEmpty ? [[]] : [[], adapters] {
                let session = try Session(model: model, contextLength: context.count + max(promptLength, generateLength) + 8, executor: executor)
                try session.setAdapters(list)
                sessions.append(session)
            }
        } catch { throw CLIError(description: error.message) }
        for depth in depths {
            // The cache holds `depth` tokens before every repetition: filled once, and each test
            // truncates back to it (the cache is positional, so this is what a fresh fill gives).
            for session in sessions {
                session.reset()
                do { try session.evaluate(Array(context[..<depth])) } catch { throw CLIError(description: error.message) }
            }
            let suffix = depth > 0 ? " @ d\(depth)" : ""
            if promptLength > 0 {
                let rates = try measure(repetitions, sessions) { session in
                    session.truncate(to: depth)
                    try session.evaluate(prompt)
                }.map { $0.map { Double(promptLength) / $0 } }
                report(threads, "pp\(promptLength)\(suffix)", rates)
            }
            if generateLength > 0 {
                let rates = try measure(repetitions, sessions) { session in
                    session.truncate(to: depth)
                    var token: Int32 = prompt.first ?? 1000
                    for _ in 0..<generateLength {
                        try session.evaluate([token])
                        token = Sampler.argmax(session.logits.baseAddress!, count: c.vocabularySize)
                    }
                }.map { $0.map { Double(generateLength) / $0 } }
                report(threads, "tg\(generateLength)\(suffix)", rates)
            }
        }
        if let pool = executor as? ThreadPool { pool.shutdown() }
    }
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    print("peak RSS: \(formatBytes(usage.ru_maxrss * 1024))")
    return 0
}

/// "1,2" → [1, 2] (duplicates dropped, order kept); anything else is a usage error.
private func numberList(_ text: String, _ option: String, minimum: Int) throws -> [Int] {
    var numbers: [Int] = []
    for part in text.split(separator: ",", omittingEmptySubsequences: false) {
        guard let number = Int(part), number >= minimum else {
            throw CLIError(description: "\(option) takes comma-separated whole numbers of at least \(minimum), got '\(text)'")
        }
        if !numbers.contains(number) { numbers.append(number) }
    }
    return numbers
}

/// Seconds of each repetition of `body` on each session (sessions alternate within a repetition).
private func measure(_ repetitions: Int, _ sessions: [Session], _ body: (Session) throws -> Void) throws -> [[Double]] {
    do {
        for session in sessions { try body(session) }  // warm-up: page in the weights, settle the threads
        var seconds = [[Double]](repeating: [], count: sessions.count)
        for _ in 0..<repetitions {
            for (index, session) in sessions.enumerated() {
                let start = DispatchTime.now().uptimeNanoseconds
                try body(session)
                seconds[index].append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
        }
        return seconds
    } catch let error as TinyLMError {
        throw CLIError(description: error.message)
    }
}

/// One row per session: the plain one, then (with adapters) the adapted one and its speed as a
/// fraction of the plain one's.
private func report(_ threads: Int, _ test: String, _ rates: [[Double]]) {
    func mean(_ r: [Double]) -> Double { r.reduce(0, +) / Double(r.count) }
    for (index, r) in rates.enumerated() {
        let m = mean(r)
        let deviation = (r.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(max(1, r.count - 1))).squareRoot()
        if index == 0 {
            print(String(format: "| %d | %@ | %.1f ± %.1f | %.2f |%@", threads, test, m, deviation, 1000 / m, rates.count > 1 ? " |" : ""))
        } else {
            print(String(format: "| %d | %@+lora | %.1f ± %.1f | %.2f | %.3f |", threads, test, m, deviation, 1000 / m, m / mean(rates[0])))
        }
    }
}
