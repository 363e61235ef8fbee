// New versions of a stored model: checkForUpdate() fetches the manifest published beside the
// file and says how much a switch to it would download (only the chunks whose hashes are not
// stored); applyUpdate() downloads those chunks beside the stored version, which keeps serving
// until the new one is complete and checked, then switches in one transaction
// (model-store.js update()). Runs in the page (TinyLM.checkForUpdate / TinyLM.update).

import { modelID } from './model-store.js';
import { fetchManifest, parsePublicKey, verifyManifestSignature } from './manifest.js';
import { readManifestOption, trustFor } from './model-trust.js';
import { namedError } from './engine.js';

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

async function latestManifest(id, { manifest, manifestURL, publicKey, signal, fetcher }) {
  const given = readManifestOption(manifest);
  if (given) {
    if (publicKey) await verifyManifestSignature(given, publicKey);
    return given;
  }
  const fetched = await fetchManifest(id, { url: manifestURL ?? undefined, publicKey, signal, fetch: fetcher });
  if (!fetched) throw namedError('NetworkError', `no manifest is published beside ${id} (${id}.manifest.json): updates need one`);
  return fetched;
}

/**
 * {available, stored: {version, sha256, size} | null, latest: {version, sha256, size}, bytes}:
 * bytes is what update() would download. Options: publicKey, manifest, manifestURL, signal.
 */
export async function checkForUpdate(store, url, { publicKey = null, manifest = null, manifestURL = null, signal = null, fetch: fetcher = globalThis.fetch } = {}) {
  const id = modelID(url);
  const key = publicKey ? hex(parsePublicKey(publicKey)) : null;
  const latest = await latestManifest(id, { manifest, manifestURL, publicKey: key, signal, fetcher });
  const record = await store.get(id);
  const stored = record?.complete ? { version: record.version ?? null, sha256: record.sha256, size: record.size } : null;
  const available = !stored || stored.sha256 !== latest.sha256;
  const bytes = available ? await store.missingBytes(latest) : 0;
  if (record) {
    await store.annotate(id, {
      checkedAt: Date.now(),
      update: available && stored ? { version: latest.version, sha256: latest.sha256, size: latest.size, bytes } : null,
    });
  }
  return { available, stored, latest: { version: latest.version, sha256: latest.sha256, size: latest.size }, bytes };
}

/**
 * Downloads the latest version's missing chunks and switches to it atomically. Resolves
 * {updated, version, sha256, downloadedBytes}. Options: onProgress({phase: 'download', done,
 * total}), signal, publicKey, manifest, manifestURL.
 */
export async function applyUpdate(store, url, { onProgress = () => {}, signal = null, publicKey = null, manifest = null, manifestURL = null, fetch: fetcher = globalThis.fetch } = {}) {
  const id = modelID(url);
  const key = publicKey ? hex(parsePublicKey(publicKey)) : null;
  const latest = await latestManifest(id, { manifest, manifestURL, publicKey: key, signal, fetcher });
  const trust = trustFor({ manifest: latest, publicKey: key });
  const { updated, record, downloadedBytes } = await store.update(id, latest, { trust, signal, onProgress, fetch: fetcher });
  return { updated, version: record.version, sha256: record.sha256, downloadedBytes };
}
