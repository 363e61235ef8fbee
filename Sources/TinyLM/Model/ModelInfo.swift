/// A model's facts as a JSON object, for the wasm ABI and the web API.
public enum ModelInfo {
    public static func json(_ model: Model) -> String {
        let c = model.config
        let t = model.tokenizer
        var object = JSONObject()
        object["name"] = .string(model.displayName)
        object["ggufName"] = model.gguf.string("general.name").map { .string($0) } ?? .null
        object["architecture"] = .string(c.architecture.rawValue)
        object["vocabularySize"] = .integer(c.vocabularySize)
        object["trainedContextLength"] = .integer(c.trainedContextLength)
        object["embeddingLength"] = .integer(c.embeddingLength)
        object["layerCount"] = .integer(c.layerCount)
        object["headCount"] = .integer(c.headCount)
        object["kvHeadCount"] = .integer(c.kvHeadCount)
        object["keyLength"] = .integer(c.keyLength)
        object["feedForwardLength"] = .integer(c.feedForwardLength)
        object["ropeBase"] = .number(RecommendedSampling.shortestDouble(c.ropeBase))
        object["ropeDimensionCount"] = .integer(c.ropeDimensionCount)
        object["slidingWindow"] = .integer(c.slidingWindow)
        object["ropeLocalBase"] = .number(RecommendedSampling.shortestDouble(c.ropeLocalBase))
        object["ggufVersion"] = .integer(Int(model.gguf.version))
        object["tensorCount"] = .integer(model.gguf.tensors.count)
        object["tensorTypes"] = .array(tensorTypes(model).map { entry in
            ["type": .string(entry.type), "count": .integer(entry.count), "bytes": .integer(entry.bytes)]
        })
        object["fileBytes"] = .integer(model.gguf.bytes.count)
        object["weightBytesPerToken"] = .integer(model.weightBytesPerToken)
        object["bosTokenID"] = t.bosTokenID.map { .integer(Int($0)) } ?? .null
        object["eosTokenID"] = t.eosTokenID.map { .integer(Int($0)) } ?? .null
        object["addsBOS"] = .bool(t.addsBOS)
        object["chatTemplate"] = model.chatTemplateSource.map { .string($0) } ?? .null
        object["sampling"] = model.recommendedSampling.json
        return JSONValue.object(object).serialized(.compact)
    }

    /// Tensor count and bytes per weight type, most bytes first (ties by name).
    static func tensorTypes(_ model: Model) -> [(type: String, count: Int, bytes: Int)] {
        var list: [(type: String, count: Int, bytes: Int)] = []
        for t in model.gguf.tensors {
            let name = t.type.name
            if let i = list.firstIndex(where: { $0.type == name }) {
                list[i].count += 1
                list[i].bytes += t.byteCount
            } else {
                list.append((name, 1, t.byteCount))
            }
        }
        list.sort { $0.bytes != $1.bytes ? $0.bytes > $1.bytes : $0.type.utf8.lexicographicallyPrecedes($1.type.utf8) }
        return list
    }
}

extension Model {
    /// A name for people: "SmolLM2 135M Instruct" rather than the converter's
    /// "Smollm2 135M 8k Lc100K Mix1 Ep2" (`ModelDisplayName`).
    public var displayName: String {
        ModelDisplayName(basename: gguf.string("general.basename"), sizeLabel: gguf.string("general.size_label"),
                         finetune: gguf.string("general.finetune"), name: gguf.string("general.name"),
                         architecture: config.architecture.rawValue).text
    }
}

/// Builds a readable model name from GGUF metadata. llama.cpp's converter fills
/// `general.name` by title-casing the Hugging Face directory name, which loses the family's
/// spelling and keeps training-run tags; `general.basename`, `general.size_label` and
/// `general.finetune` keep the parts apart, so the name is rebuilt from them:
/// family (known spellings: SmolLM, TinyLlama…; otherwise each lower-case word capitalized,
/// hyphens as spaces: "gemma-3" → "Gemma 3"), size ("270m" → "270M"), and the finetune when it
/// is made of words ("instruct" → "Instruct", "it" → "IT"; a run tag such as
/// "8k-lc100k-mix1-ep2" is dropped unless `knownFinetunes` names it).
/// Without a basename, `general.name` is used as it is, then the architecture.
public struct ModelDisplayName: Sendable {
    public var text: String

    /// Family spellings that capitalizing words would get wrong, by lower-case prefix.
    static let familySpellings: [(prefix: String, spelling: String)] = [
        ("smollm", "SmolLM"), ("tinyllama", "TinyLlama"), ("deepseek", "DeepSeek"), ("openelm", "OpenELM"),
        ("minicpm", "MiniCPM"), ("internlm", "InternLM"), ("granite", "Granite"), ("gpt", "GPT"), ("lfm", "LFM"),
    ]

    /// Finetune tags that are training-run names, and what the released model is called.
    /// SmolLM2's instruct GGUFs (SmolLM2-135M-Instruct here) carry the instruct run's name.
    static let knownFinetunes: [(basename: String, finetune: String, variant: String)] = [
        ("smollm2", "8k-lc100k-mix1-ep2", "Instruct"),
    ]

    public init(basename: String?, sizeLabel: String?, finetune: String?, name: String?, architecture: String) {
        if let basename = Self.nonEmpty(basename) {
            var parts = [Self.family(basename)]
            if let size = Self.nonEmpty(sizeLabel) { parts.append(Self.size(size)) }
            if let finetune = Self.nonEmpty(finetune), let variant = Self.variant(finetune, basename: basename) {
                parts.append(variant)
            }
            text = Self.joined(parts, " ")
        } else if let name = Self.nonEmpty(name) {
            text = name
        } else {
            text = architecture
        }
    }

    static func nonEmpty(_ s: String?) -> String? {
        guard let s else { return nil }
        var bytes = Array(s.utf8)
        while let last = bytes.last, last == 0x20 { bytes.removeLast() }
        while let first = bytes.first, first == 0x20 { bytes.removeFirst() }
        return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self)
    }

    static func words(_ s: String) -> [String] {
        var out: [String] = []
        var current: [UInt8] = []
        for b in s.utf8 {
            if b == UInt8(ascii: "-") || b == UInt8(ascii: "_") || b == UInt8(ascii: " ") {
                if !current.isEmpty { out.append(String(decoding: current, as: UTF8.self)) }
                current = []
            } else {
                current.append(b)
            }
        }
        if !current.isEmpty { out.append(String(decoding: current, as: UTF8.self)) }
        return out
    }

    static func joined(_ parts: [String], _ separator: String) -> String {
        var text = ""
        for (i, p) in parts.enumerated() {
            if i > 0 { text += separator }
            text += p
        }
        return text
    }

    static func lowercased(_ s: String) -> [UInt8] {
        s.utf8.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }
    }

    static func isLowercaseWord(_ s: String) -> Bool {
        s.utf8.contains { $0 >= 97 && $0 <= 122 } && !s.utf8.contains { $0 >= 65 && $0 <= 90 }
    }

    static func capitalized(_ s: String) -> String {
        var bytes = Array(s.utf8)
        if let first = bytes.first, first >= 97, first <= 122 { bytes[0] = first - 32 }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func family(_ basename: String) -> String {
        var out: [String] = []
        for word in words(basename) {
            let lower = lowercased(word)
            var spelled: String? = nil
            for (prefix, spelling) in familySpellings where lower.starts(with: prefix.utf8) {
                spelled = spelling + String(decoding: word.utf8.dropFirst(prefix.utf8.count), as: UTF8.self)
                break
            }
            out.append(spelled ?? (isLowercaseWord(word) ? capitalized(word) : word))
        }
        return joined(out, " ")
    }

    /// Upper-cases the unit letter after a digit: "270m" → "270M", "1.5b" → "1.5B", "8x7b" → "8x7B".
    static func size(_ label: String) -> String {
        var bytes = Array(label.utf8)
        for i in bytes.indices where i > 0 {
            let previous = bytes[i - 1]
            if previous >= 48 && previous <= 57, [UInt8(ascii: "k"), UInt8(ascii: "m"), UInt8(ascii: "b"), UInt8(ascii: "t")].contains(bytes[i]) {
                bytes[i] -= 32
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The finetune as words for people, or nil when it is a run tag nobody would call the model.
    static func variant(_ finetune: String, basename: String) -> String? {
        let lowerBase = lowercased(basename), lowerTune = lowercased(finetune)
        for known in knownFinetunes where lowerBase.elementsEqual(known.basename.utf8) && lowerTune.elementsEqual(known.finetune.utf8) {
            return known.variant
        }
        var out: [String] = []
        for word in words(finetune) {
            guard word.utf8.allSatisfy({ ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) }) else { return nil }
            out.append(lowercased(word).elementsEqual("it".utf8) ? "IT" : capitalized(word))
        }
        return out.isEmpty ? nil : joined(out, " ")
    }
}
