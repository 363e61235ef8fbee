extension TextEmbedder {
    /// What identifies this embedder in knowledge files: `general.name`, a fingerprint of the
    /// weights and vocabulary, the dimensions and the pooling it embeds with.
    public var identity: EmbedderIdentity {
        EmbedderIdentity(name: config.name, fingerprint: fingerprint, dimensions: dimensions, pooling: config.pooling)
    }

    /// ContentHash over every tensor (its name, then its bytes, in file order) and the token
    /// list (each token followed by a zero byte). Metadata such as the file's name may change
    /// without changing it; any change to a weight or a token does. Computed once (a few
    /// milliseconds for a 46 MB model).
    public var fingerprint: UInt64 {
        if let cachedFingerprint { return cachedFingerprint }
        var hash = ContentHash()
        for tensor in gguf.tensors {
            hash.update(Array(tensor.name.utf8))
            hash.update(UnsafeRawBufferPointer(start: gguf.tensorData(tensor), count: tensor.byteCount))
        }
        if let tokens = gguf.array("tokenizer.ggml.tokens") {
            tokens.forEachStringBytes { _, bytes in
                hash.update(bytes)
                hash.update([0])
            }
        }
        let value = hash.finalize()
        cachedFingerprint = value
        return value
    }
}
