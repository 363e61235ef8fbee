/// A model's facts as a JSON object, for the wasm ABI and the web API.
public enum ModelInfo {
    public static func json(_ model: Model) -> String {
        let c = model.config
        let t = model.tokenizer
        var object = JSONObject()
        object["name"] = .string(c.name)
        object["architecture"] = .string(c.architecture.name)
        object["vocabularySize"] = .integer(c.vocabularySize)
        object["trainedContextLength"] = .integer(c.trainedContextLength)
        object["embeddingLength"] = .integer(c.embeddingLength)
        object["layerCount"] = .integer(c.layerCount)
        object["headCount"] = .integer(c.headCount)
        object["kvHeadCount"] = .integer(c.kvHeadCount)
        object["fileBytes"] = .integer(model.gguf.bytes.count)
        object["weightBytesPerToken"] = .integer(model.weightBytesPerToken)
        object["bosTokenID"] = t.bosTokenID.map { .integer(Int($0)) } ?? .null
        object["eosTokenID"] = t.eosTokenID.map { .integer(Int($0)) } ?? .null
        object["addsBOS"] = .bool(t.addsBOS)
        object["chatTemplate"] = model.chatTemplateSource.map { .string($0) } ?? .null
        return JSONValue.object(object).serialized(.compact)
    }
}
