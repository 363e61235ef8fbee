// The Worker's side of sentence embeddings and knowledge bases (worker.js adds these request
// handlers): loading an embedding model from the weight store into the engine, embedding
// texts, and the knowledge operations of knowledge-base.js's EngineKnowledgeBackend.
//
// Requests (tinylm.js's Embedder is the client):
//   {type: 'embedderLoad', source, options: {sha256, manifest, manifestURL, publicKey, revalidateInterval, store}}
//      → {id, size, sha256, downloaded, refetched, verified, verification, version, update, info}
//      (checked like models: trusted-file.js)
//      progress events {phase: 'download'|'verify'|'load', done, total} as for models
//   {type: 'embed', embedder: id, texts, pooling} → {vectors: [Float32Array], tokenCounts, truncated}
//   {type: 'knowledge', embedder: id, op, args} → the operation's result (progress events for 'add')
//   {type: 'embedderUnload', embedder: id} → true
//   {type: 'groundMessages', messages, passages} → messages (tinylm.js chat({knowledge}))

import { namedError } from './protocol.js';
import { modelID } from './model-store.js';
import { loadTrustedFile, lateUpdate, trustReport } from './trusted-file.js';
import { EngineKnowledgeBackend, runKnowledgeOperation } from './knowledge-base.js';

/**
 * The handlers, given `getEngine(options)` (worker.js's engine, created on first use),
 * `store` (the ModelStore) and `yieldToEventLoop`.
 */
export function knowledgeHandlers({ getEngine, store, yieldToEventLoop }) {
  const embedders = new Map(); // id → { embedder (engine.js), backend, size, sha256 }

  function backendFor(id) {
    const entry = embedders.get(id);
    if (!entry) throw namedError('InvalidStateError', 'no embedder is loaded with that id: call loadEmbedder() first');
    return entry;
  }

  return {
    async embedderLoad({ source, options = {} }, signal, emit) {
      const progress = (event) => emit({ type: 'progress', ...event });
      const engine = await getEngine(options);
      const id = modelID(source);
      if (embedders.has(id)) {
        const entry = embedders.get(id);
        return { id, size: entry.size, sha256: entry.sha256, downloaded: false, refetched: false, ...entry.report, info: entry.embedder.info };
      }
      const { record, size, sink: upload, downloaded, refetched, trust, revalidation } = await loadTrustedFile(store, source, options, {
        begin: (bytes) => engine.beginEmbedderUpload(bytes), kind: 'embedder', signal, onProgress: progress,
      });
      progress({ phase: 'load', done: 0, total: 1 });
      const embedder = upload.finish();
      const report = trustReport(trust, record, await lateUpdate(revalidation, record));
      embedders.set(id, { embedder, backend: new EngineKnowledgeBackend(embedder), size, sha256: record?.sha256 ?? null, report });
      progress({ phase: 'load', done: 1, total: 1 });
      return { id, size, sha256: record?.sha256 ?? null, downloaded, refetched, ...report, info: embedder.info };
    },

    async embed({ embedder, texts, pooling = 'model' }) {
      return backendFor(embedder).backend.embed({ texts, pooling });
    },

    async knowledge({ embedder, op, args }, signal, emit) {
      return runKnowledgeOperation(backendFor(embedder).backend, op, args, { emit, signal, yieldNow: yieldToEventLoop });
    },

    /** The conversation grounded in passages (GroundedPrompt's layout, through the engine). */
    async groundMessages({ messages, passages }) {
      const engine = await getEngine({});
      return engine.groundMessages(messages, passages.map(({ title = '', url = '', heading = '', text = '' }) => ({ title, url, heading, text })));
    },

    async embedderUnload({ embedder }) {
      const entry = embedders.get(embedder);
      if (!entry) return false;
      for (const key of [...entry.backend.indexes.keys()]) entry.backend.close({ key });
      entry.embedder.free();
      embedders.delete(embedder);
      return true;
    },
  };
}
