// The page's handle on a sentence-embedding model running in the TinyLM Worker
// (TinyLM.loadEmbedder / lm.loadEmbedder create it).
//
//   const embedder = await TinyLM.loadEmbedder('models/all-MiniLM-L6-v2.gguf');
//   const vector = await embedder.embed('Paris is the capital of France.');   // Float32Array
//   const vectors = await embedder.embed(['first text', 'second text']);      // [Float32Array]
//
// Vectors are unit length (cosine similarity = dot product). Texts longer than the model takes
// are cut ([CLS] and [SEP] included), as sentence-transformers does; embedDetailed() says which.

import { namedError } from './protocol.js';

export class Embedder {
  /** `request(type, payload, {signal, onEvent})` sends a Worker request (tinylm.js). */
  constructor(request, loaded, owner = null) {
    this.request = request;
    this.loaded = loaded;
    this.owner = owner;
  }

  /** {name, architecture, dimensions, maxTokens, contextLength, pooling, fingerprint, …} */
  get info() { return this.loaded.info; }

  get dimensions() { return this.loaded.info.dimensions; }

  /** A Float32Array for a string, an array of them for an array of strings. pooling: 'model' | 'mean' | 'cls'. */
  async embed(textOrTexts, { pooling = 'model', signal = null } = {}) {
    const single = typeof textOrTexts === 'string';
    const { vectors } = await this.embedDetailed(single ? [textOrTexts] : textOrTexts, { pooling, signal });
    return single ? vectors[0] : vectors;
  }

  /** {vectors: [Float32Array], tokenCounts: [tokens embedded], truncated: [cut?]} for `texts`. */
  embedDetailed(texts, { pooling = 'model', signal = null } = {}) {
    if (!Array.isArray(texts) || !texts.every((t) => typeof t === 'string')) {
      return Promise.reject(namedError('InvalidArgumentError', 'embed takes a string or an array of strings'));
    }
    return this.request('embed', { embedder: this.loaded.id, texts, pooling }, { signal });
  }

  /** A knowledge operation in the Worker (knowledge-base.js uses this). */
  knowledge(op, args, { signal = null, onEvent = null } = {}) {
    return this.request('knowledge', { embedder: this.loaded.id, op, args }, { signal, onEvent });
  }

  /** Frees the model in the Worker (its stored weights stay); stops the Worker if loadEmbedder started it. */
  async unload() {
    await this.request('embedderUnload', { embedder: this.loaded.id });
    this.owner?.terminate();
  }
}
