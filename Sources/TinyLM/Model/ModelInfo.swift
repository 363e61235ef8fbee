/// A model's facts as a JSON object, for the wasm ABI and the web API.
public enum ModelInfo {
    public static func json(_ model: Model) -> String {
        let c = model.config
        let t = model.tokenizer
        var object = JSONObject()
        object["name"] = .string(model.displayName)
        object["ggufName"] = model.gguf.string("general.name").map { .string($0) } ?? .null
        object["architecture"] = .string(c.architecture.name)
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
        object["rope"] = .string(ropeDescription(model))
        object["graph"] = .string(graphDescription(model.gguf))
        return JSONValue.object(object).serialized(.compact)
    }

    /// RoPE as the model runs it: base, rotated dimensions, pairing, scaling.
    static func ropeDescription(_ model: Model) -> String {
        let c = model.config
        func number(_ value: Float) -> String { JSONValue.number(RecommendedSampling.shortestDouble(value)).serialized() }
        var parts = ["base \(number(c.ropeBase))", "\(c.ropeDimensionCount) of \(c.keyLength) dims",
                     c.ropeStyle == .adjacentPairs ? "adjacent pairs" : "halves (NeoX)"]
        if c.ropeScale != 1 { parts.append("linear scale \(number(c.ropeScale))") }
        if model.gguf.tensorInfo(named: "rope_freqs.weight") != nil { parts.append("frequency factors (rope_freqs: llama3 scaling)") }
        if model.gguf.tensorInfo(named: "rope_factors_long.weight") != nil {
            parts.append("LongRoPE factors (long ones past \(c.ropeOriginalContextLength) tokens)")
        }
        if c.ropeAttentionFactor != 1 { parts.append("attention factor \(number(c.ropeAttentionFactor))") }
        if c.slidingWindow > 0 {
            parts.append("local layers: base \(number(c.ropeLocalBase)), sliding window \(c.slidingWindow), one layer in \(c.slidingWindowPattern) global")
        }
        return parts.joined(separator: ", ")
    }

    /// The layer's parts as the file has them (the first layer's tensors).
    static func graphDescription(_ g: GGUFFile) -> String {
        func has(_ name: String) -> Bool { g.tensorInfo(named: name) != nil }
        var parts = [has("blk.0.attn_qkv.weight") ? "fused q/k/v" : "q, k, v"]
        if has("blk.0.attn_q.bias") || has("blk.0.attn_qkv.bias") { parts.append("q/k/v biases") }
        if has("blk.0.attn_q_norm.weight") { parts.append("q/k norms") }
        if has("blk.0.post_attention_norm.weight") { parts.append("post-norms") }
        parts.append(has("blk.0.ffn_gate.weight") ? "gate, up" : "fused gate+up")
        parts.append(has("output.weight") ? "output matrix" : "output tied to the embeddings")
        return parts.joined(separator: ", ")
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
                         architecture: config.architecture.name).text
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
