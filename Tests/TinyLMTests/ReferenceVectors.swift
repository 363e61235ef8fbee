import Foundation
import Testing
@testable import TinyLM
import TinyLMHost

/// The llama.cpp reference vectors of one model (../shared/reference/<model>/) and the checks
/// the reference README defines for them.
struct ReferenceVectors {
    struct GreedyCase {
        let name: String
        let promptText: String
        let promptIDs: [Int32]
        let generatedIDs: [Int32]
        let gaps: [Double]
        let stepTopIDs: [[Int32]]
        let stepTopLogits: [[Double]]
    }

    struct LogitsCase {
        let name: String
        let promptIDs: [Int32]
        let topIDs: [Int32]
        let topLogits: [Double]
    }

    let folder: String
    let root: URL
    let greedy: [GreedyCase]
    let logits: [LogitsCase]

    /// Below this top-1/top-2 margin a step is numerically fragile (README: "about 0.05").
    static let fragileGap = 0.05

    /// `folder` of `root`: ../shared/reference by default, or the test models' reference.
    init(_ folder: String, root: URL = TestSupport.referenceRoot) throws {
        self.folder = folder
        self.root = root
        let steps = try TestSupport.jsonLines("\(folder)/greedy_steps_top5.jsonl", root: root)
        greedy = try TestSupport.jsonLines("\(folder)/greedy.jsonl", root: root).map { line in
            let name = line["name"] as! String
            let stepLine = steps.first { $0["name"] as? String == name }!
            let stepList = stepLine["steps"] as! [[String: Any]]
            return GreedyCase(
                name: name,
                promptText: line["prompt_text"] as! String,
                promptIDs: TestSupport.ids(line["prompt_ids"]),
                generatedIDs: TestSupport.ids(line["gen_ids"]),
                gaps: (line["top1_top2_gap"] as! [Any]).map { ($0 as! NSNumber).doubleValue },
                stepTopIDs: stepList.map { TestSupport.ids($0["ids"]) },
                stepTopLogits: stepList.map { ($0["logits"] as! [Any]).map { ($0 as! NSNumber).doubleValue } })
        }
        logits = try TestSupport.jsonLines("\(folder)/logits_top.jsonl", root: root).map { line in
            LogitsCase(name: line["name"] as! String,
                       promptIDs: TestSupport.ids(line["prompt_ids"]),
                       topIDs: TestSupport.ids(line["top_ids"]),
                       topLogits: (line["top_logits"] as! [Any]).map { ($0 as! NSNumber).doubleValue })
        }
    }

    /// What our model computes along a reference continuation.
    struct TeacherForcedRun {
        /// Our argmax at each step, given the reference tokens before it.
        var top1: [Int32] = []
        /// Our logits for the reference top-5 ids at each step.
        var logitsOfReferenceTop5: [[Double]] = []
    }

    /// Feeds the prompt, then the reference continuation one token at a time (the decode path),
    /// recording our prediction at every step. Our own greedy output equals the reference up
    /// to the first step where `top1` differs from `generatedIDs`.
    /// The prompt goes in as one batch when `batchSize` allows (llama.cpp's reference runs do).
    static func teacherForce(_ model: Model, _ c: GreedyCase, executor: any ComputeExecutor = SerialExecutor(),
                             contextLength: Int = 256, batchSize: Int = Session.defaultBatchSize,
                             adapters: [ScaledAdapter] = []) throws -> TeacherForcedRun {
        let session = try Session(model: model, contextLength: contextLength, batchSize: batchSize, executor: executor)
        try session.setAdapters(adapters)
        try session.evaluate(c.promptIDs)
        var run = TeacherForcedRun()
        for (step, token) in c.generatedIDs.enumerated() {
            let logits = session.logits
            run.top1.append(Sampler.argmax(logits.baseAddress!, count: logits.count))
            run.logitsOfReferenceTop5.append(c.stepTopIDs[step].map { Double(logits[Int($0)]) })
            try session.evaluate([token])
        }
        return run
    }

    struct Summary {
        var line: String
        /// The largest |our logit − llama.cpp's| over the reference top-5 of every step.
        var maxTop5Difference = 0.0
    }

    /// Checks one greedy case by the README's rule — greedy ids exact up to the first fragile
    /// step, and teacher-forced top-1 equal at every clear step; returns a one-line summary.
    @discardableResult
    static func check(_ model: Model, _ c: GreedyCase, contextLength: Int = 256,
                      batchSize: Int = Session.defaultBatchSize, fragileGap: Double = fragileGap,
                      adapters: [ScaledAdapter] = []) throws -> Summary {
        let run = try teacherForce(model, c, contextLength: contextLength, batchSize: batchSize, adapters: adapters)
        let firstFragile = c.gaps.firstIndex { $0 < fragileGap } ?? c.gaps.count
        let firstDifference = zip(run.top1, c.generatedIDs).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? c.generatedIDs.count
        #expect(firstDifference >= firstFragile,
                "\(c.name): greedy ids differ at step \(firstDifference) (ours \(run.top1[min(firstDifference, run.top1.count - 1)]), llama.cpp \(c.generatedIDs[min(firstDifference, c.generatedIDs.count - 1)])) before step \(firstFragile)")
        var summary = Summary(line: "")
        var clearSteps = 0, clearAgreements = 0
        for step in 0..<c.generatedIDs.count {
            // (The reference values are Floats written out in decimal; Foundation's parser can be
            // an ulp of Double off, so they are compared after rounding back to Float.)
            for (ours, theirs) in zip(run.logitsOfReferenceTop5[step], c.stepTopLogits[step]) {
                summary.maxTop5Difference = max(summary.maxTop5Difference, abs(ours - Double(Float(theirs))))
            }
            guard c.gaps[step] >= fragileGap else { continue }
            clearSteps += 1
            if run.top1[step] == c.stepTopIDs[step][0] { clearAgreements += 1 }
            #expect(run.top1[step] == c.stepTopIDs[step][0],
                    "\(c.name) step \(step): our top-1 \(run.top1[step]) ≠ reference \(c.stepTopIDs[step][0]) (gap \(c.gaps[step]))")
        }
        summary.line = "\(c.name): greedy exact for \(firstDifference)/\(c.generatedIDs.count) (first fragile step \(firstFragile)), teacher-forced top-1 agrees at \(clearAgreements)/\(clearSteps) clear steps, max |Δlogit| over top-5 \(String(format: "%.3g", summary.maxTop5Difference))"
        return summary
    }

    /// The last-position logits of every reference prompt in `<folder>/logits_full` equal
    /// llama.cpp's over the whole vocabulary, bit for bit.
    static func checkFullLogitsBitIdentical(_ model: Model, _ folderName: String, adapters: [ScaledAdapter] = []) throws {
        let folder = TestSupport.referenceRoot.appendingPathComponent("\(folderName)/logits_full")
        let files = try FileManager.default.contentsOfDirectory(atPath: try TestSupport.requireFile(folder.path)).sorted()
        let cases = try ReferenceVectors(folderName).logits
        #expect(files.count == 8)
        for file in files {
            let name = String(file.dropFirst(3).dropLast(4))  // "00_capital_france.f32"
            let c = try #require(cases.first { $0.name == name })
            let data = try Data(contentsOf: folder.appendingPathComponent(file))
            let reference = data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            let session = try Session(model: model, contextLength: 64)
            try session.setAdapters(adapters)
            try session.evaluate(c.promptIDs)
            #expect(reference.count == session.logits.count)
            var differing = 0
            for i in 0..<reference.count where reference[i] != session.logits[i] { differing += 1 }
            #expect(differing == 0, "\(name): \(differing) of \(reference.count) logits differ from llama.cpp's")
        }
    }

    /// Prompt logits: same top-1, and our logits for llama.cpp's top-10 within `tolerance`.
    @discardableResult
    static func checkLogits(_ model: Model, _ c: LogitsCase, tolerance: Double) throws -> Double {
        let session = try Session(model: model, contextLength: 256)
        try session.evaluate(c.promptIDs)
        let logits = session.logits
        #expect(Sampler.argmax(logits.baseAddress!, count: logits.count) == c.topIDs[0], "\(c.name): top-1 differs")
        var worst = 0.0
        for (id, reference) in zip(c.topIDs, c.topLogits) { worst = max(worst, abs(Double(logits[Int(id)]) - Double(Float(reference)))) }
        #expect(worst <= tolerance, "\(c.name): max |Δlogit| over the top-10 is \(worst)")
        return worst
    }
}
