// What a model load trusts, and how it finds out: the manifest published beside the file
// (FILE + '.manifest.json', or the `manifest` option), its Ed25519 signature when the page
// gives a `publicKey`, or a `sha256`; with none of them, the SHA-256 of the first download is
// recorded and later loads are checked against it (trust on first use), and the load says so
// (`verified: false` and why). Used by worker.js (models) around model-store.js.
//
// A stored copy that already satisfies the load is read at once (no request before the first
// token); the manifest is fetched again at most once per `revalidateInterval`, alongside the
// read, to learn of a new version (`update`), which only update() applies (model-updates.js).

import { modelID } from './model-store.js';
import {
  fetchManifest, parseManifest, parsePublicKey, verifyManifestSignature, SignatureError, IntegrityError,
} from './manifest.js';

/** How often a stored model's manifest is fetched again, by default: once an hour. */
export const DEFAULT_REVALIDATE_INTERVAL = 60 * 60 * 1000;
/** A revalidation that takes longer is given up (the load does not wait on a slow network). */
const REVALIDATE_TIMEOUT = 5000;

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A manifest given as an option: text, bytes, or an object (parsed or as JSON would hold it). */
export function readManifestOption(manifest) {
  if (manifest === null || manifest === undefined || manifest === false) return null;
  if (typeof manifest === 'object' && Object.isFrozen(manifest) && Array.isArray(manifest.chunks) && manifest.members) return manifest;
  if (typeof manifest === 'string' || manifest instanceof ArrayBuffer || ArrayBuffer.isView(manifest)) return parseManifest(manifest);
  if (manifest.members && typeof manifest.members === 'object') {
    // A parsed manifest that crossed postMessage (structured clone): its text again.
    const object = { ...manifest.members };
    if (manifest.signature) {
      const { algorithm, value, publicKey } = manifest.signature;
      object.signature = publicKey ? { algorithm, publicKey, value } : { algorithm, value };
    }
    return parseManifest(JSON.stringify(object));
  }
  return parseManifest(JSON.stringify(manifest));
}

/** The trust a download checked against `manifest` (or `sha256`, or nothing) earns. */
export function trustFor({ manifest = null, sha256 = null, publicKey = null, picked = false }) {
  if (manifest) {
    return {
      verified: true, source: publicKey ? 'signed-manifest' : 'manifest', version: manifest.version, publicKey,
      reason: publicKey
        ? `every chunk matches the manifest (version ${manifest.version}) signed by the given public key`
        : `every chunk matches the manifest (version ${manifest.version}); it is not checked against a public key`,
    };
  }
  if (sha256) return { verified: true, source: 'sha256', version: null, publicKey: null, reason: 'the file matches the given sha256' };
  return {
    verified: false, source: 'first-download', version: null, publicKey: null,
    reason: picked
      ? 'a file picked on this device, with no manifest or sha256 to check it against: later loads check it against the SHA-256 recorded when it was stored'
      : 'no manifest is published beside the file and no sha256 was given: the SHA-256 of the first download was recorded, and later loads are checked against it',
  };
}

function satisfies(record, { publicKey, sha256, given }) {
  if (publicKey && record.trust?.publicKey !== publicKey) return false;
  if (sha256 && record.sha256 !== sha256.toLowerCase()) return false;
  if (given && record.sha256 !== given.sha256) return false;
  return true;
}

/**
 * Makes sure `source` is stored, checked against what the options ask for, and says what it
 * was checked against. Options: manifest (text/object, or false: do not look for one),
 * manifestURL, sha256, publicKey, revalidateInterval (ms), fetch.
 * Resolves {record, downloaded, downloadedBytes, trust, revalidation} (revalidation: a promise
 * of {update} or null, for a stored copy whose manifest was due to be fetched again).
 */
export async function ensureTrusted(store, source, options, { signal = null, onProgress = () => {} } = {}) {
  const isBlob = typeof Blob !== 'undefined' && source instanceof Blob;
  const id = modelID(source);
  const publicKey = options.publicKey ? hex(parsePublicKey(options.publicKey)) : null;
  const sha256 = options.sha256 ? String(options.sha256).toLowerCase() : null;
  const given = readManifestOption(options.manifest);
  if (given && publicKey) await verifyManifestSignature(given, publicKey);
  const fetcher = options.fetch ?? globalThis.fetch;

  const stored = await store.get(id);
  if (stored?.complete && satisfies(stored, { publicKey, sha256, given })) {
    const interval = options.revalidateInterval ?? DEFAULT_REVALIDATE_INTERVAL;
    const due = !isBlob && !given && options.manifest !== false && !(Date.now() - (stored.checkedAt ?? 0) < interval);
    return {
      record: stored, downloaded: false, downloadedBytes: 0, trust: stored.trust ?? trustFor({}),
      revalidation: due ? revalidate(store, stored, { publicKey, manifestURL: options.manifestURL, fetcher }) : null,
    };
  }

  for (let attempt = 0; ; attempt++) {
    let manifest = given;
    if (!manifest && !isBlob && options.manifest !== false) {
      manifest = await fetchManifest(id, { url: options.manifestURL ?? undefined, publicKey, signal, fetch: fetcher });
    }
    if (!manifest && publicKey) {
      throw new SignatureError(`a public key was given, so ${id} needs a signed manifest (the manifest option${isBlob ? '' : ' or one published beside the file'})`);
    }
    if (manifest && sha256 && manifest.sha256 !== sha256) {
      throw new IntegrityError(`the manifest of ${manifest.name} gives SHA-256 ${manifest.sha256}, but sha256 ${sha256} was asked for; nothing was stored`);
    }
    const trust = trustFor({ manifest, sha256, publicKey, picked: isBlob });
    try {
      const current = await store.get(id);
      if (manifest && current?.complete && current.sha256 !== manifest.sha256) {
        // The stored version does not do for this load (another version was asked for, or it
        // is not signed by the key): bring it to the manifest's version, atomically.
        const { record, downloadedBytes } = await store.update(source, manifest, { trust, signal, onProgress, fetch: fetcher });
        return { record, downloaded: true, downloadedBytes, trust, revalidation: null };
      }
      const { record, downloaded, downloadedBytes } = await store.ensure(source, { manifest, sha256, trust, signal, onProgress, fetch: fetcher });
      const verified = downloaded || !manifest ? record : await store.annotate(id, { trust, checkedAt: Date.now(), version: manifest.version, update: null });
      return { record: verified, downloaded, downloadedBytes, trust, revalidation: null };
    } catch (error) {
      // The file changed on the server while we downloaded it: its new manifest tells the new chunks.
      if (error.fileChanged && !given && attempt === 0) continue;
      throw error;
    }
  }
}

/**
 * Fetches the manifest of a stored model again: the same file upgrades a first-download trust
 * to a verified one; another version is noted as an available update with the bytes it needs.
 * Resolves {update: {version, sha256, size, bytes} | null, error?}; never rejects.
 */
export async function revalidate(store, record, { publicKey = null, manifestURL = null, fetcher = globalThis.fetch } = {}) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), REVALIDATE_TIMEOUT);
  try {
    const manifest = await fetchManifest(record.url, { url: manifestURL ?? undefined, publicKey, signal: controller.signal, fetch: fetcher });
    if (!manifest) {
      await store.annotate(record.id, { checkedAt: Date.now() });
      return { update: null };
    }
    if (manifest.sha256 === record.sha256) {
      const trust = record.trust?.verified && record.trust.source !== 'first-download' && !publicKey
        ? record.trust : trustFor({ manifest, publicKey });
      await store.annotate(record.id, { checkedAt: Date.now(), trust, version: manifest.version, update: null });
      return { update: null, trust };
    }
    const update = { version: manifest.version, sha256: manifest.sha256, size: manifest.size, bytes: await store.missingBytes(manifest) };
    await store.annotate(record.id, { checkedAt: Date.now(), update });
    return { update };
  } catch (error) {
    return { update: record.update ?? null, error: `${error.name}: ${error.message}` };
  } finally {
    clearTimeout(timer);
  }
}
