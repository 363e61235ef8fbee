import Foundation
import TinyLM
import TinyLMHost

/// `tinylm bench`: prompt processing (pp) and generation (tg) speed in tokens/s, like
/// llama-bench: pp evaluates a P-token prompt, tg evaluates N tokens one at a time, each after
/// `-d` tokens already in the cache (default 0: an empty cache; the fill is not timed). Each test
/// repeats; the table shows mean ± standard deviation, tests named as llama-bench names them
/// ("pp128", "tg128 @ d1024").
func runBench(_ arguments: [String]) throws -> Int32 {
    let a = try Arguments(arguments, valued: ["--model", "-p", "-n", "-t", "--threads", "-r", "--repetitions", "-d", "--n-depth"], flags: [])
    let promptLength = try a.int("-p", default: 128)
    let generateLength = try a.int("-n", default: 128)
    let repetitions = max(1, try a.int("-r", default: try a.int("--repetitions", default: 3)))
    let threadList = try numberList(a.value("-t") ?? a.value("--threads") ?? "1,\(defaultThreadCount())", "-t", minimum: 1)
    let depths = try numberList(a.value("-d") ?? a.value("--n-depth") ?? "0", "-d", minimum: 0)
    let loaded = try LoadedModel(path: a.value("--model"))
    let model = loaded.model
    let c = model.config
    print("model: \(c.name) (\(c.architecture.rawValue)), \(formatBytes(loaded.file.bytes.count)), weights read per token \(formatBytes(model.weightBytesPerToken))")
    print(String(format: "load: %.1f ms (mmap + parse + tokenizer)", loaded.loadSeconds * 1000))
    print("| threads | test | t/s | ms/token |")
    print("|---|---|---|---|")
    // Deterministic pseudo-random tokens (avoiding special ids at the start of the vocab).
    var random = SeededRandom(seed: 42)
    let randomTokens = { (count: Int) in (0..<count).map { _ in Int32(1000 + Int(random.next() % UInt64(c.vocabularySize - 1000))) } }
    let prompt = randomTokens(promptLength)
    let context = randomTokens(depths.max() ?? 0)
    for threads in threadList {
        let executor = makeExecutor(threads: threads)
        let session: Session
        do { session = try Session(model: model, contextLength: context.count + max(promptLength, generateLength) + 8, executor: executor) }
        catch { throw CLIError(description: error.message) }
        for depth in depths {
            // The cache holds `depth` tokens before every repetition: filled once, and each test
            // truncates back to it (the cache is positional, so this is what a fresh fill gives).
            session.reset()
            do { try session.evaluate(Array(context[..<depth])) } catch { throw CLIError(description: error.message) }
            let suffix = depth > 0 ? " @ d\(depth)" : ""
            if promptLength > 0 {
                let rates = try measure(repetitions) {
                    session.truncate(to: depth)
                    try session.evaluate(prompt)
                }.map { Double(promptLength) / $0 }
                report(threads, "pp\(promptLength)\(suffix)", rates)
            }
            if generateLength > 0 {
                let rates = try measure(repetitions) {
                    session.truncate(to: depth)
                    var token: Int32 = prompt.first ?? 1000
                    for _ in 0..<generateLength {
                        try session.evaluate([token])
                        token = Sampler.argmax(session.logits.baseAddress!, count: c.vocabularySize)
                    }
                }.map { Double(generateLength) / $0 }
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
