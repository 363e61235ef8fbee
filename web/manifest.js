// File manifests: the JSON published beside a model, adapter or knowledge file (FILE +
// '.manifest.json') giving its name, version, size, the SHA-256 of the whole file and of each
// chunk, and optionally an Ed25519 signature. DESIGN.md ("File manifests") defines the format;
// `tinylm manifest create|verify` (Sources/TinyLM/Integrity/FileManifest.swift) follows the same
// rules, so the CLI and this module accept and refuse the same texts and sign the same bytes.
//
// Plain ES module, no dependencies beyond sha256.js; runs in browsers, Workers and Node 20.
// Ed25519 uses WebCrypto (Chromium 137+, Firefox 129+, Safari 17+, Node 20), falling back to
// node:crypto under Node.

import { Sha256 } from './sha256.js';

export const MANIFEST_FORMAT = 'tinylm-manifest';
export const MANIFEST_FORMAT_VERSION = 1;
/** The weight store's chunk size (model-store.js CHUNK_SIZE); `tinylm manifest create` uses it. */
export const DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024;
export const MIN_CHUNK_SIZE = 64;
export const MAX_CHUNK_SIZE = 2 ** 30;
/** A longer manifest is refused unread (a 1 TB file at 4 MiB chunks needs about 17 MB). */
export const MAX_MANIFEST_BYTES = 32 * 1024 * 1024;
const MAX_DEPTH = 16;
const MAX_NAME_BYTES = 255;
const MAX_VERSION_BYTES = 128;

/** The manifest text is malformed or inconsistent. */
export class InvalidManifestError extends Error {
  constructor(message) { super(message); this.name = 'InvalidManifestError'; }
}

/** The manifest is unsigned while a key is required, or its signature does not match the key. */
export class SignatureError extends Error {
  constructor(message) { super(message); this.name = 'SignatureError'; }
}

/** Bytes differ from what the manifest says (size or SHA-256); `chunkIndex` says where, if known. */
export class IntegrityError extends Error {
  constructor(message, chunkIndex = null) {
    super(message);
    this.name = 'IntegrityError';
    if (chunkIndex !== null) this.chunkIndex = chunkIndex;
  }
}

const encoder = new TextEncoder();
const HEX64 = /^[0-9a-f]{64}$/;
const HEX128 = /^[0-9a-f]{128}$/;

/** The URL of the manifest published beside `fileURL`. */
export function manifestURL(fileURL) {
  return `${fileURL}.manifest.json`;
}

/** How many chunks a file of `size` bytes has. */
export function chunkCount(size, chunkSize) {
  // Exact below 2^53: (size − 1)/chunkSize misses the next integer by at least 1/chunkSize,
  // more than half a unit in the last place there.
  return size === 0 ? 0 : Math.floor((size - 1) / chunkSize) + 1;
}

/** Where chunk `index` lies: {offset, length}. */
export function chunkRange(manifest, index) {
  const offset = index * manifest.chunkSize;
  return { offset, length: Math.min(manifest.chunkSize, manifest.size - offset) };
}

// --- reading --------------------------------------------------------------------------------

/**
 * Parses and validates a manifest (a string, or its UTF-8 bytes as an ArrayBuffer or typed
 * array). Returns a frozen object {name, version, size, sha256, chunkSize, chunks[],
 * signature: {algorithm, value, publicKey} | null, members}; throws InvalidManifestError.
 */
export function parseManifest(input) {
  let text;
  if (typeof input === 'string') {
    // UTF-16 length ≤ UTF-8 length ≤ 3 × UTF-16 length: measure only when it matters.
    if (input.length > MAX_MANIFEST_BYTES || (input.length * 3 > MAX_MANIFEST_BYTES && encoder.encode(input).length > MAX_MANIFEST_BYTES)) {
      throw new InvalidManifestError(`the manifest is more than ${MAX_MANIFEST_BYTES} bytes`);
    }
    text = input;
  } else if (input instanceof ArrayBuffer || ArrayBuffer.isView(input)) {
    const bytes = input instanceof ArrayBuffer ? new Uint8Array(input) : new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
    if (bytes.length > MAX_MANIFEST_BYTES) throw new InvalidManifestError(`the manifest is ${bytes.length} bytes, more than the limit ${MAX_MANIFEST_BYTES}`);
    try {
      // A byte-order mark is kept (and then refused by JSON.parse), as the Swift reader does.
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
    } catch {
      throw new InvalidManifestError('the manifest is not valid UTF-8');
    }
  } else {
    throw new InvalidManifestError('a manifest must be given as text or bytes');
  }
  let document;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new InvalidManifestError(`the manifest is not valid JSON: ${error.message}`);
  }
  checkPortable(document, 1);
  if (document === null || typeof document !== 'object' || Array.isArray(document)) {
    throw new InvalidManifestError('the manifest must be a JSON object');
  }
  const members = {};
  let signature = null;
  for (const key of Object.keys(document)) {
    if (key === 'signature') signature = readSignature(document[key]);
    else defineMember(members, key, document[key]);
  }
  return validate(members, signature);
}

// Own data properties even for keys like "__proto__" (JSON.parse makes them so; plain
// assignment would set the prototype instead).
function defineMember(object, key, value) {
  Object.defineProperty(object, key, { value, enumerable: true, writable: false, configurable: false });
}

/**
 * Lone UTF-16 surrogates (which Swift cannot hold), keys that are not ASCII (so every sort
 * order agrees), numbers that are not integers below 2^53 (so every writer prints them the
 * same), nesting deeper than 16: all refused, as in FileManifest.swift.
 */
function checkPortable(value, depth) {
  if (typeof value === 'string') {
    if (!isWellFormed(value)) throw new InvalidManifestError('the manifest holds a lone UTF-16 surrogate');
  } else if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new InvalidManifestError('manifest numbers must be integers of magnitude below 2^53');
  } else if (value !== null && typeof value === 'object') {
    if (depth > MAX_DEPTH) throw new InvalidManifestError(`the manifest is not valid JSON: nesting depth exceeds ${MAX_DEPTH}`);
    if (Array.isArray(value)) {
      for (const item of value) checkPortable(item, depth + 1);
    } else {
      for (const key of Object.keys(value)) {
        if (!isWellFormed(key)) throw new InvalidManifestError('the manifest holds a lone UTF-16 surrogate');
        // eslint-disable-next-line no-control-regex
        if (/[^\x00-\x7f]/.test(key)) throw new InvalidManifestError('manifest object keys must be ASCII');
        checkPortable(value[key], depth + 1);
      }
    }
  }
}

function isWellFormed(text) {
  if (typeof text.isWellFormed === 'function') return text.isWellFormed();
  return !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text);
}

function readSignature(value) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new InvalidManifestError("'signature' must be an object");
  if (value.algorithm !== 'Ed25519') throw new InvalidManifestError('\'signature.algorithm\' must be "Ed25519"');
  if (typeof value.value !== 'string' || !HEX128.test(value.value)) {
    throw new InvalidManifestError("'signature.value' must be 128 lowercase hex digits (64 bytes)");
  }
  let publicKey = null;
  if (Object.hasOwn(value, 'publicKey')) {
    if (typeof value.publicKey !== 'string' || !HEX64.test(value.publicKey)) {
      throw new InvalidManifestError("'signature.publicKey' must be 64 lowercase hex digits (32 bytes)");
    }
    publicKey = value.publicKey;
  }
  return Object.freeze({ algorithm: 'Ed25519', value: value.value, publicKey });
}

function validate(members, signature) {
  const has = (key) => Object.hasOwn(members, key);
  const string = (key) => {
    if (!has(key)) throw new InvalidManifestError(`the manifest has no '${key}'`);
    if (typeof members[key] !== 'string') throw new InvalidManifestError(`'${key}' must be a string`);
    return members[key];
  };
  const integer = (key) => {
    if (!has(key)) throw new InvalidManifestError(`the manifest has no '${key}'`);
    if (typeof members[key] !== 'number') throw new InvalidManifestError(`'${key}' must be an integer`);
    return members[key]; // a safe integer (checkPortable)
  };
  if (string('format') !== MANIFEST_FORMAT) throw new InvalidManifestError(`'format' must be "${MANIFEST_FORMAT}"`);
  const formatVersion = integer('formatVersion');
  if (formatVersion !== MANIFEST_FORMAT_VERSION) {
    throw new InvalidManifestError(`manifest format version ${formatVersion} is not supported (this reader knows version ${MANIFEST_FORMAT_VERSION})`);
  }
  const name = string('name');
  if (!isFileName(name)) {
    throw new InvalidManifestError(`'name' must be a file name of 1 to ${MAX_NAME_BYTES} bytes without '/', '\\' or control characters`);
  }
  const version = string('version');
  const versionBytes = encoder.encode(version).length;
  if (versionBytes < 1 || versionBytes > MAX_VERSION_BYTES) throw new InvalidManifestError(`'version' must be 1 to ${MAX_VERSION_BYTES} bytes`);
  const size = integer('size');
  if (size < 0) throw new InvalidManifestError("'size' must not be negative");
  const sha256 = string('sha256');
  if (!HEX64.test(sha256)) throw new InvalidManifestError("'sha256' must be 64 lowercase hex digits");
  const chunkSize = integer('chunkSize');
  if (chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE || chunkSize % 64 !== 0) {
    throw new InvalidManifestError(`'chunkSize' ${chunkSize} must be a multiple of 64 between ${MIN_CHUNK_SIZE} and ${MAX_CHUNK_SIZE}`);
  }
  if (!has('chunks')) throw new InvalidManifestError("the manifest has no 'chunks'");
  const chunks = members.chunks;
  if (!Array.isArray(chunks)) throw new InvalidManifestError("'chunks' must be an array");
  const expected = chunkCount(size, chunkSize);
  if (chunks.length !== expected) {
    throw new InvalidManifestError(`'chunks' lists ${chunks.length} hashes, but ${size} bytes in chunks of ${chunkSize} make ${expected}`);
  }
  chunks.forEach((hash, index) => {
    if (typeof hash !== 'string') throw new InvalidManifestError(`'chunks'[${index}] must be a string`);
    if (!HEX64.test(hash)) throw new InvalidManifestError(`'chunks'[${index}] must be 64 lowercase hex digits`);
  });
  return Object.freeze({
    format: MANIFEST_FORMAT, formatVersion, name, version, size, sha256, chunkSize,
    chunks: Object.freeze(chunks.slice()), signature, members: deepFreeze(members),
  });
}

function isFileName(name) {
  if (name === '.' || name === '..') return false;
  const bytes = encoder.encode(name);
  if (bytes.length < 1 || bytes.length > MAX_NAME_BYTES) return false;
  return bytes.every((b) => b >= 0x20 && b !== 0x7f && b !== 0x2f && b !== 0x5c);
}

function deepFreeze(value) {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze(value[key]);
  }
  return value;
}

// --- canonical form -------------------------------------------------------------------------

/**
 * The bytes a signature covers: the manifest without `signature`, as JSON with object keys
 * sorted, no whitespace, strings as JSON.stringify writes them, integers in decimal; UTF-8.
 */
export function canonicalManifestBytes(manifest) {
  return encoder.encode(canonicalJSON(manifest.members));
}

function canonicalJSON(value) {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJSON).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJSON(value[key])}`).join(',')}}`;
}

/** The manifest as its file holds it (members in order, then the signature), indented. */
export function manifestText(manifest) {
  const object = { ...manifest.members };
  if (manifest.signature) {
    const { algorithm, publicKey, value } = manifest.signature;
    object.signature = publicKey ? { algorithm, publicKey, value } : { algorithm, value };
  }
  return `${JSON.stringify(object, null, 2)}\n`;
}

// --- hashing --------------------------------------------------------------------------------

function asBytes(data) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError('expected an ArrayBuffer or a typed array');
}

function toHex(bytes) {
  let hex = '';
  for (const byte of bytes) hex += byte.toString(16).padStart(2, '0');
  return hex;
}

function fromHex(hex) {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

/** Lowercase hex SHA-256 of one buffer: WebCrypto where there is one (native speed), else sha256.js. */
export async function sha256Hex(data) {
  const bytes = asBytes(data);
  const subtle = globalThis.crypto?.subtle;
  // WebCrypto refuses views of shared memory (wasm threads): hash those in JavaScript.
  if (subtle && !(typeof SharedArrayBuffer !== 'undefined' && bytes.buffer instanceof SharedArrayBuffer)) {
    return toHex(new Uint8Array(await subtle.digest('SHA-256', bytes)));
  }
  const hash = new Sha256();
  hash.update(bytes);
  return hash.hex();
}

/** Checks chunk `index` (its length and SHA-256); throws IntegrityError with `chunkIndex`. */
export async function verifyChunk(manifest, index, data) {
  const bytes = asBytes(data);
  if (!Number.isInteger(index) || index < 0 || index >= manifest.chunks.length) {
    throw new IntegrityError(`chunk ${index} does not exist: ${manifest.name} has ${manifest.chunks.length} chunks`, index);
  }
  const { length } = chunkRange(manifest, index);
  if (bytes.length !== length) {
    throw new IntegrityError(`chunk ${index} of ${manifest.name} is ${bytes.length} bytes, the manifest says ${length}`, index);
  }
  if (await sha256Hex(bytes) !== manifest.chunks[index]) {
    throw new IntegrityError(`chunk ${index} of ${manifest.name} does not match its SHA-256 in the manifest`, index);
  }
}

/** Checks a whole file (bytes or a Blob): its size, every chunk and the whole-file SHA-256. */
export async function verifyFile(manifest, data) {
  const isBlob = typeof Blob !== 'undefined' && data instanceof Blob;
  const size = isBlob ? data.size : asBytes(data).length;
  if (size !== manifest.size) throw new IntegrityError(`${manifest.name} is ${size} bytes, the manifest says ${manifest.size}`);
  const whole = new Sha256();
  for (let index = 0; index < manifest.chunks.length; index++) {
    const { offset, length } = chunkRange(manifest, index);
    const chunk = isBlob
      ? new Uint8Array(await data.slice(offset, offset + length).arrayBuffer())
      : asBytes(data).subarray(offset, offset + length);
    await verifyChunk(manifest, index, chunk);
    whole.update(chunk);
  }
  if (whole.hex() !== manifest.sha256) throw new IntegrityError(`${manifest.name} does not match the SHA-256 in the manifest`);
}

/** A manifest describing `data` (unsigned): what `tinylm manifest create` writes. */
export async function describeFile(data, { name, version, chunkSize = DEFAULT_CHUNK_SIZE }) {
  const bytes = asBytes(data);
  const whole = new Sha256();
  const chunks = [];
  for (let offset = 0; offset < bytes.length; offset += chunkSize) {
    const chunk = bytes.subarray(offset, Math.min(bytes.length, offset + chunkSize));
    chunks.push(await sha256Hex(chunk));
    whole.update(chunk);
  }
  const text = JSON.stringify({
    format: MANIFEST_FORMAT, formatVersion: MANIFEST_FORMAT_VERSION, name, version,
    size: bytes.length, sha256: whole.hex(), chunkSize, chunks,
  });
  return parseManifest(text);
}

// --- signatures -----------------------------------------------------------------------------

/**
 * A raw 32-byte Ed25519 public key from 64 hex digits, 44 base64 characters (as `tinylm
 * manifest keygen` prints) or bytes. Throws SignatureError for anything else.
 */
export function parsePublicKey(key) {
  if (key instanceof ArrayBuffer || ArrayBuffer.isView(key)) {
    const bytes = asBytes(key);
    if (bytes.length === 32) return new Uint8Array(bytes);
  } else if (typeof key === 'string') {
    const text = key.trim();
    if (/^[0-9a-fA-F]{64}$/.test(text)) return fromHex(text.toLowerCase());
    if (/^[A-Za-z0-9+/]{43}=$/.test(text)) {
      const binary = atob(text);
      const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
      // Canonical base64 only: the last character's unused bits must be zero.
      if (bytes.length === 32 && btoa(binary) === text) return bytes;
    }
  }
  throw new SignatureError('publicKey must be a raw Ed25519 key: 64 hex digits, 44 base64 characters or 32 bytes');
}

async function ed25519Verify(publicKey, signature, message) {
  const subtle = globalThis.crypto?.subtle;
  let webCryptoError = null;
  if (subtle) {
    try {
      const key = await subtle.importKey('raw', publicKey, { name: 'Ed25519' }, false, ['verify']);
      return await subtle.verify({ name: 'Ed25519' }, key, signature, message);
    } catch (error) {
      webCryptoError = error;
    }
  }
  if (globalThis.process?.versions?.node) {
    const { createPublicKey, verify } = await import('node:crypto');
    const prefix = fromHex('302a300506032b6570032100'); // Ed25519 SubjectPublicKeyInfo (RFC 8410)
    const der = new Uint8Array(prefix.length + 32);
    der.set(prefix);
    der.set(publicKey, prefix.length);
    return verify(null, message, createPublicKey({ key: der, format: 'der', type: 'spki' }), signature);
  }
  if (!subtle) throw new SignatureError('verifying a signature needs WebCrypto, which browsers only offer on secure (HTTPS or localhost) pages');
  throw new SignatureError(`this browser cannot verify Ed25519 signatures (Chromium 137+, Firefox 129+ and Safari 17+ can): ${webCryptoError?.message}`);
}

/**
 * Checks the manifest's signature against the trusted `publicKey`. Resolves when it matches;
 * throws SignatureError when the manifest is unsigned or signed otherwise.
 */
export async function verifyManifestSignature(manifest, publicKey) {
  const key = parsePublicKey(publicKey);
  if (!manifest.signature) throw new SignatureError(`the manifest of ${manifest.name} is not signed, and a public key is required`);
  const valid = await ed25519Verify(key, fromHex(manifest.signature.value), canonicalManifestBytes(manifest));
  if (!valid) {
    throw new SignatureError(`the manifest of ${manifest.name} is not signed by the given public key (it was changed, or signed with another key)`);
  }
}

/** The same manifest signed with a WebCrypto Ed25519 private key (tests, in-page tooling). */
export async function signManifest(manifest, privateKey, publicKey = null) {
  const signature = new Uint8Array(await globalThis.crypto.subtle.sign({ name: 'Ed25519' }, privateKey, canonicalManifestBytes(manifest)));
  const object = { ...manifest.members, signature: { algorithm: 'Ed25519', value: toHex(signature) } };
  if (publicKey) object.signature.publicKey = toHex(parsePublicKey(publicKey));
  return parseManifest(JSON.stringify(object));
}

// --- fetching -------------------------------------------------------------------------------

/**
 * Fetches and parses the manifest published beside `fileURL` (or at `url`). Resolves null
 * when the server has none (404), so a caller can fall back; with `publicKey`, a missing or
 * unsigned manifest is a SignatureError and the signature must match.
 */
export async function fetchManifest(fileURL, { url = manifestURL(fileURL), publicKey = null, signal = null, fetch: fetcher = globalThis.fetch } = {}) {
  let response;
  try {
    response = await fetcher(url, { signal, cache: 'no-cache' });
  } catch (error) {
    if (signal?.aborted || error.name === 'AbortError') throw error;
    const failure = new Error(`cannot reach ${url}: ${error.message}`);
    failure.name = 'NetworkError';
    throw failure;
  }
  if (response.status === 404 || response.status === 410) {
    await response.body?.cancel();
    if (publicKey) throw new SignatureError(`${url} does not exist, and a signed manifest is required`);
    return null;
  }
  if (!response.ok) {
    const failure = new Error(`cannot fetch ${url}: HTTP ${response.status}`);
    failure.name = 'NetworkError';
    throw failure;
  }
  const manifest = parseManifest(await readLimited(response, url));
  if (publicKey) await verifyManifestSignature(manifest, publicKey);
  return manifest;
}

async function readLimited(response, url) {
  const declared = Number(response.headers.get('Content-Length'));
  if (declared > MAX_MANIFEST_BYTES) {
    await response.body?.cancel();
    throw new InvalidManifestError(`${url} is ${declared} bytes, more than the limit ${MAX_MANIFEST_BYTES}`);
  }
  if (!response.body) return new Uint8Array(await response.arrayBuffer());
  const reader = response.body.getReader();
  const parts = [];
  let total = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > MAX_MANIFEST_BYTES) {
      await reader.cancel();
      throw new InvalidManifestError(`${url} is more than ${MAX_MANIFEST_BYTES} bytes`);
    }
    parts.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) { bytes.set(part, offset); offset += part.byteLength; }
  return bytes;
}
