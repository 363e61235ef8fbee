import Foundation
import Testing
@testable import TinyLM
import TinyLMHost

/// llama.cpp's own tokenizer test suite (tests/test-tokenizer-0): vocabulary-only GGUF files
/// `ggml-vocab-NAME.gguf`, each with `.inp` (texts separated by "\n__ggml_vocab_test__\n") and
/// `.out` (one line of space-separated ids per text), tokenized with add_special = false and
/// parse_special = false. `scripts/fetch-models.sh tokenizer-tests` fetches them (from the
/// llama-cpp-python 0.3.36 sdist) into models/tokenizer-tests/.
enum LlamaCppTokenizerSuite {
    static let directory = TestSupport.repoRoot.appendingPathComponent("models/tokenizer-tests")

    /// Every vocabulary of the suite that has test cases and a tokenizer type TinyLM implements.
    static let supported = [
        "bert-bge", "command-r", "deepseek-coder", "deepseek-llm", "falcon", "gemma-4", "gpt-2", "llama-bpe",
        "llama-spm", "mpt", "phi-3", "qwen2", "qwen35", "refact", "starcoder",
    ]
    /// Vocabularies the suite ships without test cases, of types TinyLM implements (checked
    /// against scripts/tokenizer-reference.py's cases only).
    static let withoutCases = ["aquila", "baichuan", "gpt-neox"]

    /// What llama.cpp gives for one text and vocabulary.
    struct Reference: Sendable {
        /// add_special = parse_special = false
        let ids: [Int32]
        /// add_special = parse_special = true
        let specialIDs: [Int32]
        /// llama_detokenize of `specialIDs`, special tokens rendered
        let detokenized: String?
    }

    /// llama.cpp's tokenization of chat prompts and random texts for every vocabulary above
    /// (scripts/tokenizer-reference.py): per text, per vocabulary.
    static let referenceCases: [(text: String, byVocabulary: [String: Reference])] = {
        let path = TestSupport.repoRoot.appendingPathComponent("Tests/reference/llama-cpp-tokenizer-cases.jsonl").path
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        // TinyLM's own JSON parser: Foundation's JSONSerialization drops a U+FEFF at the start
        // of a string or after an escape, and these texts have some.
        return data.split(separator: UInt8(ascii: "\n")).compactMap { line in
            guard let object = try? JSONValue(parsing: Array(line)), let text = object["text"]?.stringValue,
                  let byVocabulary = object["vocabularies"]?.objectValue else { return nil }
            func ids(_ value: JSONValue?) -> [Int32] { (value?.arrayValue ?? []).compactMap { $0.intValue.flatMap { Int32(exactly: $0) } } }
            var references: [String: Reference] = [:]
            for (name, value) in byVocabulary.entries {
                references[name] = Reference(ids: ids(value["ids"]), specialIDs: ids(value["special_ids"]),
                                             detokenized: value["detokenized"]?.stringValue)
            }
            return (text, references)
        }
    }()

    struct Case {
        let text: String
        let expected: [Int32]
    }

    static func path(_ name: String) -> String {
        directory.appendingPathComponent("ggml-vocab-\(name).gguf").path
    }

    static func requireSuite() throws {
        guard FileManager.default.fileExists(atPath: directory.path) else {
            throw TestSupport.Missing(description: "missing \(directory.path): run scripts/fetch-models.sh tokenizer-tests (or all)")
        }
    }

    /// The cases of one vocabulary, split as test-tokenizer-0.cpp splits them.
    static func cases(_ name: String) throws -> [Case] {
        try requireSuite()
        let base = path(name)
        let input = try Data(contentsOf: URL(fileURLWithPath: try TestSupport.requireFile(base + ".inp")))
        let output = try String(contentsOfFile: try TestSupport.requireFile(base + ".out"), encoding: .utf8)
        let separator = Data("\n__ggml_vocab_test__\n".utf8)
        var texts: [String] = []
        var position = input.startIndex
        while position < input.endIndex {
            guard let match = input.range(of: separator, in: position..<input.endIndex) else {
                texts.append(String(decoding: input[position...], as: UTF8.self))
                break
            }
            texts.append(String(decoding: input[position..<match.lowerBound], as: UTF8.self))
            position = match.upperBound
        }
        var lines = output.components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        guard texts.count == lines.count else {
            throw TestSupport.Missing(description: "\(name): \(texts.count) inputs but \(lines.count) output lines")
        }
        return try zip(texts, lines).map { text, line in
            let ids = try line.split(separator: " ").map { field -> Int32 in
                guard let id = Int32(field) else { throw TestSupport.Missing(description: "\(name): bad id '\(field)'") }
                return id
            }
            return Case(text: text, expected: ids)
        }
    }

    /// The tokenizer of a vocabulary-only file, loaded without a model (the bytes stay mapped
    /// for the whole test process, like the models).
    nonisolated(unsafe) private static var loaded: [String: (MappedFile, Tokenizer)] = [:]
    private static let lock = NSLock()

    static func tokenizer(_ name: String) throws -> Tokenizer {
        lock.lock(); defer { lock.unlock() }
        if let hit = loaded[name] { return hit.1 }
        try requireSuite()
        let file = try MappedFile(path: try TestSupport.requireFile(path(name)))
        let tokenizer = try Tokenizer(gguf: try GGUFFile(bytes: file.bytes))
        loaded[name] = (file, tokenizer)
        return tokenizer
    }
}

@Suite("llama.cpp tokenizer suite")
struct LlamaCppTokenizerSuiteTests {
    @Test("every case of the vocabulary tokenizes as llama.cpp's test-tokenizer-0 expects",
          arguments: LlamaCppTokenizerSuite.supported)
    func vocabulary(name: String) throws {
        let tokenizer = try LlamaCppTokenizerSuite.tokenizer(name)
        let cases = try LlamaCppTokenizerSuite.cases(name)
        #expect(cases.count >= 40)
        var passed = 0
        for c in cases {
            let got = tokenizer.encode(c.text, addSpecial: false, parseSpecial: false)
            #expect(got == c.expected, "\(name): \(c.text.debugDescription)")
            if got == c.expected { passed += 1 }
        }
        print("llama.cpp tokenizer suite: \(name) \(passed)/\(cases.count)")
    }

    @Test("chat prompts and random texts tokenize, with and without special tokens, and detokenize as llama.cpp",
          arguments: LlamaCppTokenizerSuite.supported + LlamaCppTokenizerSuite.withoutCases)
    func referenceCases(name: String) throws {
        let tokenizer = try LlamaCppTokenizerSuite.tokenizer(name)
        let cases = LlamaCppTokenizerSuite.referenceCases
        #expect(cases.count >= 60, "Tests/reference/llama-cpp-tokenizer-cases.jsonl is missing or short")
        var passed = 0
        for c in cases {
            guard let expected = c.byVocabulary[name] else {
                Issue.record("\(name): no reference for \(c.text.debugDescription)")
                continue
            }
            let plain = tokenizer.encode(c.text, addSpecial: false, parseSpecial: false)
            let special = tokenizer.encode(c.text, addSpecial: true, parseSpecial: true)
            let decoded = tokenizer.decode(special)
            #expect(plain == expected.ids, "\(name): \(c.text.debugDescription)")
            #expect(special == expected.specialIDs, "\(name), special: \(c.text.debugDescription)")
            #expect(decoded == expected.detokenized, "\(name), detokenized: \(c.text.debugDescription)")
            if plain == expected.ids && special == expected.specialIDs && decoded == expected.detokenized { passed += 1 }
        }
        print("llama.cpp reference cases: \(name) \(passed)/\(cases.count)")
    }

    @Test("the reference cases cover exactly the vocabularies this test runs")
    func referenceCasesCoverTheVocabularies() {
        let expected = Set(LlamaCppTokenizerSuite.supported + LlamaCppTokenizerSuite.withoutCases)
        for c in LlamaCppTokenizerSuite.referenceCases {
            #expect(Set(c.byVocabulary.keys) == expected, "\(c.text.debugDescription)")
        }
    }

    @Test("the suite's files are the ones this test knows: every vocabulary with cases is run")
    func coversTheSuite() throws {
        try LlamaCppTokenizerSuite.requireSuite()
        let files = try FileManager.default.contentsOfDirectory(atPath: LlamaCppTokenizerSuite.directory.path)
        let withCases = Set(files.compactMap { file -> String? in
            guard file.hasPrefix("ggml-vocab-"), file.hasSuffix(".gguf.inp") else { return nil }
            return String(file.dropFirst("ggml-vocab-".count).dropLast(".gguf.inp".count))
        })
        let known = Set(LlamaCppTokenizerSuite.supported)
        #expect(withCases == known)
    }

    @Test("a vocabulary-only file loads as a tokenizer but is refused as a model, with an error saying why")
    func vocabularyOnlyFiles() throws {
        let file = try MappedFile(path: try TestSupport.requireFile(LlamaCppTokenizerSuite.path("llama-bpe")))
        let gguf = try GGUFFile(bytes: file.bytes)
        #expect(gguf.tensors.isEmpty)
        let tokenizer = try Tokenizer(gguf: gguf)
        #expect(tokenizer.vocabularySize == 128256)
        #expect(tokenizer.decode(tokenizer.encode("Hello world")) == "Hello world")
        do {
            _ = try Model(bytes: file.bytes)
            Issue.record("a vocabulary-only file loaded as a model")
        } catch {
            #expect(error.kind == .unsupportedModel)
            #expect(error.message.contains("vocabulary only"))
        }
    }
}
