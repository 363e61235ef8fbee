// tinylm-fuzz: the native worker of scripts/fuzz.py. It holds the seed files in memory and runs
// the cases the driver sends (edits against a seed, plus the options and chat request to use;
// or a manifest text), one after another in this process, and answers each with a line of
// JSON. A trap kills the process: the driver sees it die in the middle of a known case, prints
// that case's seed and restarts the worker.
//
// Frames on stdin: u32 length, then the payload; little-endian.
//   1 seed:     u32 index, then the file path (UTF-8)
//   2 model:    u32 seed index, u32 flags (1: generate, 2: answer the summary itself, 4: say
//               whether the weights are finite), u32 n + options JSON, u32 n + chat
//               request JSON, u32 edit count, edits (u64 offset, u64 deleted, u32 n + inserted bytes)
//   3 manifest: the manifest text
//   4 adapter:  u32 base model seed index, u32 adapter seed index, u32 flags (4: say whether
//               the adapter's weights are finite), u32 n + options JSON, u32 edit count, edits
//               (against the adapter seed, as in 2)
//   5 knowledge: u32 embedder seed index, u32 vector form (-1 as i32: the file's), u32 n +
//               query vector (f32), then the knowledge file itself
// Answers on stdout: u32 length, then a JSON object.

import Foundation
import TinyLM

struct FrameReader {
    let bytes: [UInt8]
    var offset = 0

    struct Truncated: Error {}

    mutating func u32() throws -> Int {
        guard offset + 4 <= bytes.count else { throw Truncated() }
        defer { offset += 4 }
        return Int(bytes[offset]) | Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2]) << 16 | Int(bytes[offset + 3]) << 24
    }

    mutating func u64() throws -> Int {
        let low = try u32(), high = try u32()
        return low | high << 32
    }

    mutating func take(_ count: Int) throws -> [UInt8] {
        guard count >= 0, offset + count <= bytes.count else { throw Truncated() }
        defer { offset += count }
        return Array(bytes[offset..<(offset + count)])
    }

    mutating func rest() -> [UInt8] { Array(bytes[offset...]) }
}

func readExactly(_ count: Int) -> [UInt8]? {
    var out = [UInt8](repeating: 0, count: count)
    var filled = 0
    while filled < count {
        let n = out.withUnsafeMutableBytes { read(0, $0.baseAddress! + filled, count - filled) }
        if n <= 0 { return nil }
        filled += n
    }
    return out
}

func answer(_ object: JSONObject) {
    let bytes = Array(JSONValue.object(object).serialized().utf8)
    var frame: [UInt8] = []
    withUnsafeBytes(of: UInt32(bytes.count).littleEndian) { frame += $0 }
    frame += bytes
    frame.withUnsafeBytes { raw in
        var written = 0
        while written < raw.count {
            let n = write(1, raw.baseAddress! + written, raw.count - written)
            if n <= 0 { exit(3) }
            written += n
        }
    }
}

/// Peak resident memory of this process in bytes (Linux reports kilobytes).
func peakResidentBytes() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Int(usage.ru_maxrss) * 1024
}

nonisolated(unsafe) var seeds: [Int: SeedBuffer] = [:]

/// The reply fields every model, adapter and knowledge case shares.
func outcomeReply(_ outcome: ModelCase.Outcome) -> JSONObject {
    var reply = JSONObject()
    reply["status"] = .string(outcome.loaded ? "loaded" : "error")
    if !outcome.loaded {
        reply["kind"] = .integer(Int(outcome.errorKind))
        reply["message"] = .string(String(outcome.errorMessage.prefix(300)))
    }
    reply["summary"] = .string(SHA256.hash(outcome.summary).hex)
    reply["loadSummary"] = .string(SHA256.hash(outcome.loadSummary).hex)
    reply["finite"] = .bool(outcome.finiteLogits)
    reply["memory"] = .integer(peakResidentBytes())
    return reply
}

func readEdits(_ reader: inout FrameReader) throws -> [SeedBuffer.Edit] {
    let editCount = try reader.u32()
    var edits: [SeedBuffer.Edit] = []
    for _ in 0..<editCount {
        let offset = try reader.u64(), deleted = try reader.u64()
        edits.append(SeedBuffer.Edit(offset: offset, deleteCount: deleted, insert: try reader.take(try reader.u32())))
    }
    return edits
}

func runModelCase(_ reader: inout FrameReader) throws -> JSONObject {
    let seedIndex = try reader.u32()
    let flags = try reader.u32()
    let options = try reader.take(try reader.u32())
    let chat = try reader.take(try reader.u32())
    let edits = try readEdits(&reader)
    guard let seed = seeds[seedIndex] else { throw SeedBuffer.Failure(description: "no seed \(seedIndex)") }
    let file = try seed.view(applying: edits)
    defer { seed.restore() }
    let outcome = ModelCase.run(file, options: options, chat: chat, generate: flags & 1 != 0)
    var answer = outcomeReply(outcome)
    if flags & 2 != 0 { answer["parts"] = .string(String(decoding: outcome.summary, as: UTF8.self)) }
    if flags & 4 != 0 { answer["finiteWeights"] = .bool(ModelCase.weightsAreFinite(file)) }
    return answer
}

func runAdapterCase(_ reader: inout FrameReader) throws -> JSONObject {
    let baseIndex = try reader.u32(), adapterIndex = try reader.u32()
    let flags = try reader.u32()
    let options = try reader.take(try reader.u32())
    let edits = try readEdits(&reader)
    guard let base = seeds[baseIndex], let seed = seeds[adapterIndex] else { throw SeedBuffer.Failure(description: "no seed \(baseIndex) or \(adapterIndex)") }
    let model = AdapterCase.model(seedIndex: baseIndex, file: try base.view(applying: []))
    let file = try seed.view(applying: edits)
    defer { seed.restore() }
    var answer = outcomeReply(AdapterCase.run(model: model, adapter: file, options: options))
    if flags & 4 != 0 { answer["finiteWeights"] = .bool(ModelCase.weightsAreFinite(file)) }
    return answer
}

func runKnowledgeCase(_ reader: inout FrameReader) throws -> JSONObject {
    let embedderIndex = try reader.u32()
    let form = Int32(truncatingIfNeeded: try reader.u32())
    let query = try reader.take(try reader.u32())
    guard let seed = seeds[embedderIndex] else { throw SeedBuffer.Failure(description: "no seed \(embedderIndex)") }
    let embedder = KnowledgeCase.embedder(seedIndex: embedderIndex, file: try seed.view(applying: []))
    return outcomeReply(KnowledgeCase.run(embedder: embedder, file: reader.rest(), form: form, query: query))
}

func runManifestCase(_ text: [UInt8]) -> JSONObject {
    var reply = JSONObject()
    do {
        let manifest = try FileManifest(parsing: text)
        reply["status"] = .string("valid")
        reply["canonical"] = .string(SHA256.hash(manifest.canonicalBytes).hex)
        reply["signed"] = .bool(manifest.signature != nil)
        reply["size"] = .number(Double(manifest.size))
        reply["chunks"] = .integer(manifest.chunks.count)
    } catch {
        reply["status"] = .string("invalid")
        reply["kind"] = .integer(Int(error.kind.rawValue))
        reply["message"] = .string(String(error.message.prefix(300)))
    }
    return reply
}

while let header = readExactly(4) {
    let length = Int(header[0]) | Int(header[1]) << 8 | Int(header[2]) << 16 | Int(header[3]) << 24
    guard length > 0, let payload = readExactly(length) else { break }
    var reader = FrameReader(bytes: payload, offset: 1)
    do {
        switch payload[0] {
        case 1:
            let index = try reader.u32()
            let path = String(decoding: reader.rest(), as: UTF8.self)
            guard let data = FileManager.default.contents(atPath: path) else { throw SeedBuffer.Failure(description: "cannot read \(path)") }
            seeds[index] = SeedBuffer(Array(data))
            answer(["status": "ready", "size": .integer(data.count), "memory": .integer(peakResidentBytes())])
        case 2:
            answer(try runModelCase(&reader))
        case 3:
            answer(runManifestCase(reader.rest()))
        case 4:
            answer(try runAdapterCase(&reader))
        case 5:
            answer(try runKnowledgeCase(&reader))
        default:
            answer(["status": "failed", "message": .string("unknown request \(payload[0])")])
        }
    } catch {
        answer(["status": "failed", "message": .string("\(error)")])
    }
}
