// Knowledge files (what `tinylm index` writes for a site) fetched by URL, for
// KnowledgeBase.fromFile: stored in IndexedDB ("tinylm-knowledge-files") and checked like
// models — the manifest published beside the file, its signature when a public key is given,
// a sha256, or the first download (trusted-file.js) — chunk by chunk as they arrive and again
// when read back. Runs on the page: the bytes go to the knowledge base's import.

import { ModelStore } from './model-store.js';
import { loadTrustedFile, lateUpdate, trustOptions, trustReport } from './trusted-file.js';

/** The knowledge-file store: list(), delete(id), has(url), usage() as for models. */
export const knowledgeFileStore = new ModelStore({ dbName: 'tinylm-knowledge-files' });

/**
 * The bytes of the knowledge file at `url` (or a stored one's 'file:…' id), checked as
 * `options` ask (sha256, manifest, manifestURL, publicKey, revalidateInterval; onProgress,
 * signal). Resolves {bytes, id, size, sha256, downloaded, refetched, verified, verification,
 * version, update}; rejects with IntegrityError, SignatureError, InvalidManifestError,
 * NetworkError, QuotaExceededError or AbortError (nothing unchecked is stored or returned).
 */
export async function loadKnowledgeFile(url, { onProgress = () => {}, signal = null, ...trust } = {}) {
  let bytes = null;
  const source = String(url).startsWith('file:') ? String(url) : new URL(String(url), globalThis.location?.href).href;
  const { id, record, size, downloaded, refetched, trust: checked, revalidation } = await loadTrustedFile(knowledgeFileStore, source, trustOptions(trust), {
    begin: (length) => {
      bytes = new Uint8Array(length);
      return { write: (chunk, offset) => bytes.set(chunk, offset), cancel: () => { bytes = null; } };
    },
    kind: 'knowledge file', signal, onProgress: onProgress ?? (() => {}),
  });
  return { bytes, id, size, sha256: record?.sha256 ?? null, downloaded, refetched, ...trustReport(checked, record, await lateUpdate(revalidation, record)) };
}
