// File manifests: web/manifest.js and `tinylm manifest` (the native CLI) agree on what a valid
// manifest is, on the bytes a signature covers, and on which files and keys pass.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile, readFile, rm } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { nativeTool, requireFile } from './helpers.mjs';
import {
  parseManifest, canonicalManifestBytes, verifyManifestSignature, verifyChunk, verifyFile, describeFile,
  signManifest, manifestText, parsePublicKey, sha256Hex, fetchManifest, chunkCount,
  InvalidManifestError, SignatureError, IntegrityError, DEFAULT_CHUNK_SIZE,
} from '../../web/manifest.js';
import { Sha256 } from '../../web/sha256.js';

let dir;
let keyA; // {privatePath, hex, base64}
let keyB;

function cli(...args) {
  const result = spawnSync(requireFile(nativeTool, 'run swift build -c release'), ['manifest', ...args], { cwd: dir, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function keygen(prefix) {
  const result = cli('keygen', '--out', prefix);
  assert.equal(result.status, 0, result.stderr);
  return {
    privatePath: `${prefix}.key`,
    hex: /hex: +([0-9a-f]{64})/.exec(result.stdout)[1],
    base64: /base64: +(\S{44})/.exec(result.stdout)[1],
  };
}

async function randomFile(name, size) {
  const bytes = randomBytes(size);
  await writeFile(path.join(dir, name), bytes);
  return bytes;
}

const readManifest = async (name) => parseManifest(await readFile(path.join(dir, name)));

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tinylm-manifest-'));
  keyA = keygen('a');
  keyB = keygen('b');
});

after(async () => { await rm(dir, { recursive: true, force: true }); });

test('keygen prints one key as hex and base64; both parse to the same 32 bytes', () => {
  assert.deepEqual(parsePublicKey(keyA.hex), parsePublicKey(keyA.base64));
  assert.equal(parsePublicKey(keyA.hex).length, 32);
  assert.notEqual(keyA.hex, keyB.hex);
  assert.throws(() => parsePublicKey(keyA.hex.slice(2)), SignatureError);
  assert.throws(() => parsePublicKey(`${keyA.base64.slice(0, 42)}B=`), SignatureError); // non-canonical base64
});

test('a manifest the CLI writes describes the file: size, chunk hashes, whole hash', async () => {
  const bytes = await randomFile('model.gguf', 2 * DEFAULT_CHUNK_SIZE + 12345);
  const created = cli('create', 'model.gguf', '--version', '2025-01');
  assert.equal(created.status, 0, created.stderr);
  const manifest = await readManifest('model.gguf.manifest.json');
  assert.equal(manifest.name, 'model.gguf');
  assert.equal(manifest.version, '2025-01');
  assert.equal(manifest.size, bytes.length);
  assert.equal(manifest.chunkSize, DEFAULT_CHUNK_SIZE);
  assert.equal(manifest.chunks.length, 3);
  assert.equal(manifest.sha256, createHash('sha256').update(bytes).digest('hex'));
  assert.equal(manifest.chunks[2], createHash('sha256').update(bytes.subarray(2 * DEFAULT_CHUNK_SIZE)).digest('hex'));
  assert.equal(manifest.signature, null);
  await verifyFile(manifest, bytes);
  await verifyFile(manifest, new Blob([bytes]));
  // The JS describes the same file identically (so the canonical bytes agree too).
  const described = await describeFile(bytes, { name: 'model.gguf', version: '2025-01' });
  assert.deepEqual(canonicalManifestBytes(described), canonicalManifestBytes(manifest));
  assert.equal(cli('verify', 'model.gguf').status, 0);
});

test('good: signed by the CLI, verified by the JS with the hex or the base64 key, and by the CLI', async () => {
  const bytes = await randomFile('signed.bin', 300_000);
  assert.equal(cli('create', 'signed.bin', '--chunk-size', '65536', '--version', 'v1', '--sign', keyA.privatePath).status, 0);
  const manifest = await readManifest('signed.bin.manifest.json');
  assert.equal(manifest.signature.publicKey, keyA.hex);
  await verifyManifestSignature(manifest, keyA.hex);
  await verifyManifestSignature(manifest, keyA.base64);
  await verifyFile(manifest, bytes);
  for (let index = 0; index < manifest.chunks.length; index++) {
    const offset = index * manifest.chunkSize;
    await verifyChunk(manifest, index, bytes.subarray(offset, offset + manifest.chunkSize));
  }
  const verified = cli('verify', 'signed.bin', '--public-key', keyA.base64);
  assert.equal(verified.status, 0, verified.stderr);
  assert.match(verified.stdout, /signature valid for the given public key/);
  assert.equal(cli('verify', 'signed.bin', '--public-key', 'a.pub').status, 0);
});

test('tampered file: one flipped byte fails that chunk, in the JS and in the CLI', async () => {
  const bytes = await randomFile('tampered.bin', 200_000);
  assert.equal(cli('create', 'tampered.bin', '--chunk-size', '65536', '--sign', keyA.privatePath).status, 0);
  const manifest = await readManifest('tampered.bin.manifest.json');
  const bad = Buffer.from(bytes);
  bad[70_000] ^= 0x01; // chunk 1
  await writeFile(path.join(dir, 'tampered.bin'), bad);
  await verifyManifestSignature(manifest, keyA.hex); // the manifest itself is fine
  await assert.rejects(verifyFile(manifest, bad), (error) => error instanceof IntegrityError && error.chunkIndex === 1);
  await assert.rejects(verifyChunk(manifest, 1, bad.subarray(65536, 131072)), IntegrityError);
  await verifyChunk(manifest, 0, bad.subarray(0, 65536));
  await assert.rejects(verifyFile(manifest, bad.subarray(0, bad.length - 1)), IntegrityError); // truncated
  const result = cli('verify', 'tampered.bin', '--public-key', keyA.hex);
  assert.equal(result.status, 1);
  assert.match(result.stderr, /IntegrityError: chunk 1 /);
});

test('tampered manifest: any signed member changed fails the signature, in the JS and in the CLI', async () => {
  await randomFile('meta.bin', 1000);
  assert.equal(cli('create', 'meta.bin', '--version', '1', '--sign', keyA.privatePath).status, 0);
  const text = await readFile(path.join(dir, 'meta.bin.manifest.json'), 'utf8');
  const edits = [
    (m) => { m.version = '2'; },
    (m) => { m.name = 'other.bin'; },
    (m) => { m.extra = 'added after signing'; },
    (m) => { m.signature.value = m.signature.value.replace(/^./, (c) => (c === '0' ? '1' : '0')); },
  ];
  for (const edit of edits) {
    const object = JSON.parse(text);
    edit(object);
    const edited = JSON.stringify(object, null, 1);
    const manifest = parseManifest(edited);
    await assert.rejects(verifyManifestSignature(manifest, keyA.hex), SignatureError, edit.toString());
    await writeFile(path.join(dir, 'edited.json'), edited);
    const result = cli('verify', 'meta.bin', '--manifest', 'edited.json', '--public-key', keyA.hex);
    assert.equal(result.status, 1, edit.toString());
    assert.match(result.stderr, /SignatureError|IntegrityError/);
  }
  // Layout is not signed: the same members re-indented, reordered and re-escaped still verify.
  const object = JSON.parse(text);
  const reordered = Object.fromEntries(Object.entries(object).reverse());
  const relaid = JSON.stringify(reordered).replace('"name"', '"n\\u0061me"');
  await verifyManifestSignature(parseManifest(relaid), keyA.hex);
  await writeFile(path.join(dir, 'relaid.json'), relaid);
  assert.equal(cli('verify', 'meta.bin', '--manifest', 'relaid.json', '--public-key', keyA.hex).status, 0);
});

test('wrong key: a manifest signed with key A fails against key B, in the JS and in the CLI', async () => {
  await randomFile('wrongkey.bin', 5000);
  assert.equal(cli('create', 'wrongkey.bin', '--sign', keyA.privatePath).status, 0);
  const manifest = await readManifest('wrongkey.bin.manifest.json');
  await assert.rejects(verifyManifestSignature(manifest, keyB.hex), SignatureError);
  const result = cli('verify', 'wrongkey.bin', '--public-key', keyB.hex);
  assert.equal(result.status, 1);
  assert.match(result.stderr, /SignatureError/);
});

test('unsigned with a key required: SignatureError in the JS and in the CLI', async () => {
  await randomFile('unsigned.bin', 5000);
  assert.equal(cli('create', 'unsigned.bin').status, 0);
  const manifest = await readManifest('unsigned.bin.manifest.json');
  await assert.rejects(verifyManifestSignature(manifest, keyA.hex), (error) => error instanceof SignatureError && /not signed/.test(error.message));
  const result = cli('verify', 'unsigned.bin', '--public-key', keyA.hex);
  assert.equal(result.status, 1);
  assert.match(result.stderr, /SignatureError: the manifest is not signed/);
  assert.equal(cli('verify', 'unsigned.bin').status, 0); // no key asked for: the hashes still count
});

test('the reverse: a manifest signed in JavaScript (WebCrypto) verifies in the CLI, extra members included', async () => {
  const bytes = await randomFile('js.bin', 150_000);
  const keys = await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify']);
  const raw = new Uint8Array(await crypto.subtle.exportKey('raw', keys.publicKey));
  const described = await describeFile(bytes, { name: 'js.bin', version: 'ünïcode ✓ 𝄞', chunkSize: 4096 });
  // Unknown members are allowed and signed; their strings and numbers must serialize alike.
  const members = {
    ...described.members,
    note: 'tab\there, quote " backslash \\ newline\n control \u0001 del \u007f line-sep \u2028 emoji 😀',
    nested: { z: [1, -2, 0, 9007199254740991, { b: null, a: true }], a: false },
  };
  const withExtras = parseManifest(JSON.stringify(members));
  const signed = await signManifest(withExtras, keys.privateKey, raw);
  await verifyManifestSignature(signed, raw);
  // The number 1e2 and the escaped forms parse to the same canonical bytes.
  await writeFile(path.join(dir, 'js.bin.manifest.json'), manifestText(signed).replace('"a": true', '"a": true, "e": 1e2'));
  const changed = cli('verify', 'js.bin', '--public-key', Buffer.from(raw).toString('hex'));
  assert.equal(changed.status, 1, 'a member added after signing must fail'); // "e" was not signed
  await writeFile(path.join(dir, 'js.bin.manifest.json'), manifestText(signed));
  const result = cli('verify', 'js.bin', '--public-key', Buffer.from(raw).toString('base64'));
  assert.equal(result.status, 0, result.stderr);
  const numberForms = manifestText(signed).replace('9007199254740991', '9.007199254740991e15');
  await verifyManifestSignature(parseManifest(numberForms), raw);
  await writeFile(path.join(dir, 'forms.json'), numberForms);
  assert.equal(cli('verify', 'js.bin', '--manifest', 'forms.json', '--public-key', Buffer.from(raw).toString('hex')).status, 0);
});

test('invalid manifests are InvalidManifestError in the JS and refused by the CLI', async () => {
  await randomFile('x.bin', 100);
  assert.equal(cli('create', 'x.bin', '--chunk-size', '64').status, 0);
  const good = JSON.parse(await readFile(path.join(dir, 'x.bin.manifest.json'), 'utf8'));
  const variant = (change) => { const copy = structuredClone(good); change(copy); return JSON.stringify(copy); };
  const cases = {
    'not JSON': '{"format": ',
    'an array': '[]',
    'trailing comma': JSON.stringify(good).replace(/}$/, ',}'),
    'byte-order mark': `\ufeff${JSON.stringify(good)}`,
    'wrong format': variant((m) => { m.format = 'other'; }),
    'future version': variant((m) => { m.formatVersion = 2; }),
    'missing name': variant((m) => { delete m.name; }),
    'name with a slash': variant((m) => { m.name = '../x.bin'; }),
    'empty version': variant((m) => { m.version = ''; }),
    'size as a string': variant((m) => { m.size = '100'; }),
    'fractional size': variant((m) => { m.size = 100.5; }),
    'negative size': variant((m) => { m.size = -1; }),
    'size 2^60': variant((m) => { m.size = 2 ** 60; }),
    'size beyond doubles': JSON.stringify(good).replace('"size":100', '"size":1e400'),
    'sizes that do not add up': variant((m) => { m.size = 129; }),
    'one chunk missing': variant((m) => { m.chunks.pop(); }),
    'chunk size not a multiple of 64': variant((m) => { m.chunkSize = 100; }),
    'chunk size 0': variant((m) => { m.chunkSize = 0; }),
    'uppercase hash': variant((m) => { m.sha256 = m.sha256.toUpperCase(); }),
    'short chunk hash': variant((m) => { m.chunks[0] = m.chunks[0].slice(1); }),
    'non-ASCII key': variant((m) => { m['clé'] = 1; }),
    'lone surrogate': JSON.stringify(good).replace('"x.bin"', '"x\\ud800.bin"'),
    'nesting 17 deep': variant((m) => { m.deep = JSON.parse('['.repeat(16) + ']'.repeat(16)); }),
    'bad signature algorithm': variant((m) => { m.signature = { algorithm: 'RSA', value: '0'.repeat(128) }; }),
    'short signature': variant((m) => { m.signature = { algorithm: 'Ed25519', value: '0'.repeat(127) }; }),
  };
  for (const [name, text] of Object.entries(cases)) {
    assert.throws(() => parseManifest(text), InvalidManifestError, name);
    await writeFile(path.join(dir, 'bad.json'), text);
    const result = cli('verify', 'x.bin', '--manifest', 'bad.json');
    assert.equal(result.status, 1, `${name}: ${result.stdout}`);
    assert.match(result.stderr, /InvalidManifestError/, name);
  }
  assert.throws(() => parseManifest(new Uint8Array([0x7b, 0xff, 0x7d])), InvalidManifestError); // not UTF-8
  // Nesting 16 deep is still fine, in both.
  const deep = variant((m) => { m.deep = JSON.parse('['.repeat(15) + ']'.repeat(15)); });
  parseManifest(deep);
  await writeFile(path.join(dir, 'deep.json'), deep);
  assert.equal(cli('verify', 'x.bin', '--manifest', 'deep.json').status, 0);
});

test('chunk counts are exact up to the largest size', () => {
  assert.equal(chunkCount(0, 64), 0);
  assert.equal(chunkCount(64, 64), 1);
  assert.equal(chunkCount(65, 64), 2);
  for (const c of [64, 192, 4 * 1024 * 1024, 3 * 2 ** 20, 2 ** 30]) {
    const k = Math.floor((2 ** 53 - 1) / c);
    assert.equal(chunkCount(k * c, c), k);
    assert.equal(chunkCount(k * c - 1, c), k);
    assert.equal(chunkCount(2 ** 53 - 1, c), Number((2n ** 53n - 2n) / BigInt(c)) + 1);
  }
});

test('where WebCrypto lacks Ed25519, Node verifies through node:crypto with the same verdicts', async () => {
  const manifest = await readManifest('signed.bin.manifest.json');
  const subtle = globalThis.crypto.subtle;
  const importKey = subtle.importKey;
  let refused = 0;
  subtle.importKey = function (format, key, algorithm, ...rest) {
    if (algorithm?.name === 'Ed25519') { refused++; return Promise.reject(new DOMException('Unrecognized algorithm name', 'NotSupportedError')); }
    return importKey.call(this, format, key, algorithm, ...rest);
  };
  try {
    await verifyManifestSignature(manifest, keyA.hex);
    await assert.rejects(verifyManifestSignature(manifest, keyB.hex), SignatureError);
    const edited = parseManifest(JSON.stringify({ ...JSON.parse(manifestText(manifest)), version: 'changed' }));
    await assert.rejects(verifyManifestSignature(edited, keyA.hex), SignatureError);
    assert.equal(refused, 3);
  } finally {
    delete subtle.importKey;
  }
});

test('sha256Hex (WebCrypto) agrees with sha256.js and node:crypto', async () => {
  for (const size of [0, 1, 55, 56, 63, 64, 65, 1000, 100_000]) {
    const bytes = randomBytes(size);
    const expected = createHash('sha256').update(bytes).digest('hex');
    assert.equal(await sha256Hex(bytes), expected);
    const js = new Sha256();
    js.update(bytes);
    assert.equal(js.hex(), expected);
  }
});

test('fetchManifest: 404 means no manifest, unless a key is required; oversized answers are refused', async () => {
  const respond = (status, body = '', headers = {}) => async () => new Response(status === 404 ? 'not found' : body, { status, headers });
  assert.equal(await fetchManifest('https://example.test/m.gguf', { fetch: respond(404) }), null);
  await assert.rejects(fetchManifest('https://example.test/m.gguf', { fetch: respond(404), publicKey: keyA.hex }), SignatureError);
  await assert.rejects(fetchManifest('https://example.test/m.gguf', { fetch: respond(200, '{}', { 'Content-Length': String(64 << 20) }) }), InvalidManifestError);
  await assert.rejects(fetchManifest('https://example.test/m.gguf', { fetch: respond(500) }), (error) => error.name === 'NetworkError');
  const text = await readFile(path.join(dir, 'signed.bin.manifest.json'), 'utf8');
  let asked = null;
  const manifest = await fetchManifest('https://example.test/signed.bin', {
    fetch: async (url) => { asked = url; return new Response(text, { status: 200 }); }, publicKey: keyA.hex,
  });
  assert.equal(asked, 'https://example.test/signed.bin.manifest.json');
  assert.equal(manifest.name, 'signed.bin');
  await assert.rejects(fetchManifest('https://example.test/signed.bin', { fetch: async () => new Response(text), publicKey: keyB.hex }), SignatureError);
});
