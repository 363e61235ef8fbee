// Saved conversations: session snapshots (the KV cache of a chat, engine.js
// Session.saveSnapshot) kept in IndexedDB, so that a conversation reopened after a reload
// continues without evaluating its history again.
//
// Layout (database "tinylm-sessions"):
//   snapshots  {key, lookup, model, adapters, template, promptText, promptIDs, replyIDs, size, savedAt}
//              key:    model fingerprint / adapters / template / SHA-256 of the cached token ids
//              lookup: model fingerprint / adapters / template / SHA-256 of promptText (index):
//                      what a reopened conversation can compute from its messages alone
//   bytes      key → ArrayBuffer (the snapshot, Sources/TinyLM/Generation/SessionSnapshot.swift)
//
// A record describes the chat state worker.js keeps after an answer (its chatCache): the
// rendered prompt of the last turn (promptText), its ids and the answer's evaluated ids; the
// snapshot holds exactly promptIDs + replyIDs. Nothing here is trusted on read: the core
// refuses a snapshot of another model file, adapter set, template or cache shape, or damaged
// bytes (SnapshotMismatchError, InvalidSnapshotError), and the worker then deletes the record.
//
// Space: snapshots grow with the conversation (about 23 KB per token for SmolLM2-135M), so the
// store keeps at most `maxCount` of them and `maxBytes` in all, dropping the least recently
// saved or restored; saving a conversation's next turn replaces its previous snapshot.

import { digestHex } from './sha256.js';
import { promisify, done } from './idb.js';

const DB_NAME = 'tinylm-sessions';
const DB_VERSION = 1;

const encoder = new TextEncoder();



/** The identity part of the keys: model fingerprint, adapters (ids with scales, '' for none), template hash. */
export async function snapshotScope({ model, adapters = '', template = '' }) {
  const templateHash = template ? (await digestHex(encoder.encode(template))).slice(0, 32) : 'model';
  return `${model}/${adapters || 'none'}/${templateHash}`;
}

/** The key of a snapshot holding `ids` in `scope`. */
export async function snapshotKey(scope, ids) {
  return `${scope}/ids:${await digestHex(new Uint8Array(Int32Array.from(ids).buffer))}`;
}

/** The lookup of a conversation whose last turn's rendered prompt is `promptText`. */
export async function snapshotLookup(scope, promptText) {
  return `${scope}/text:${await digestHex(encoder.encode(promptText))}`;
}

export class SessionSnapshotStore {
  constructor({ dbName = DB_NAME, maxBytes = 512 * 1024 * 1024, maxCount = 24 } = {}) {
    this.dbName = dbName;
    this.maxBytes = maxBytes;
    this.maxCount = maxCount;
    this.db = null;
  }

  async open() {
    if (this.db) return this.db;
    const request = indexedDB.open(this.dbName, DB_VERSION);
    request.onupgradeneeded = () => {
      const db = request.result;
      const snapshots = db.createObjectStore('snapshots', { keyPath: 'key' });
      snapshots.createIndex('lookup', 'lookup');
      db.createObjectStore('bytes');
    };
    this.db = await promisify(request);
    // Another tab upgrading the database: let it, and reopen next time.
    this.db.onversionchange = () => { this.db.close(); this.db = null; };
    return this.db;
  }

  /**
   * Stores a snapshot: `record` {scope, promptText, promptIDs, replyIDs} and its `bytes`
   * (Uint8Array). `replaces`: the key of the conversation's previous snapshot, deleted in the
   * same transaction. Returns the new key.
   */
  async put({ scope, promptText, promptIDs, replyIDs }, bytes, { replaces = null } = {}) {
    const ids = [...promptIDs, ...replyIDs];
    const key = await snapshotKey(scope, ids);
    const lookup = await snapshotLookup(scope, promptText);
    const db = await this.open();
    const transaction = db.transaction(['snapshots', 'bytes'], 'readwrite');
    const snapshots = transaction.objectStore('snapshots');
    const stored = transaction.objectStore('bytes');
    if (replaces && replaces !== key) {
      snapshots.delete(replaces);
      stored.delete(replaces);
    }
    // Another conversation state with the same lookup (an answer regenerated) is superseded.
    const previous = await promisify(snapshots.index('lookup').getAllKeys(lookup));
    for (const old of previous) if (old !== key) { snapshots.delete(old); stored.delete(old); }
    snapshots.put({
      key, lookup, scope, promptText, promptIDs: Array.from(promptIDs), replyIDs: Array.from(replyIDs),
      size: bytes.byteLength, savedAt: Date.now(),
    });
    // An ArrayBuffer of exactly the snapshot (the view may be part of a larger one).
    stored.put(bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes.buffer : bytes.slice().buffer, key);
    await done(transaction);
    await this.prune(key);
    return key;
  }

  /** The record and bytes saved for the conversation whose last turn rendered `promptText`, or null. */
  async find(scope, promptText) {
    const lookup = await snapshotLookup(scope, promptText);
    const db = await this.open();
    const transaction = db.transaction(['snapshots', 'bytes'], 'readonly');
    const records = await promisify(transaction.objectStore('snapshots').index('lookup').getAll(lookup));
    // The text is compared in full: the lookup is only its hash.
    const record = records.find((r) => r.promptText === promptText);
    if (!record) return null;
    const bytes = await promisify(transaction.objectStore('bytes').get(record.key));
    if (!(bytes instanceof ArrayBuffer)) return null;
    return { record, bytes: new Uint8Array(bytes) };
  }

  /** Marks a snapshot as used now (pruning drops the least recently used). */
  async touch(key) {
    const db = await this.open();
    const transaction = db.transaction('snapshots', 'readwrite');
    const snapshots = transaction.objectStore('snapshots');
    const record = await promisify(snapshots.get(key));
    if (record) snapshots.put({ ...record, savedAt: Date.now() });
    await done(transaction);
  }

  async delete(key) {
    const db = await this.open();
    const transaction = db.transaction(['snapshots', 'bytes'], 'readwrite');
    transaction.objectStore('snapshots').delete(key);
    transaction.objectStore('bytes').delete(key);
    await done(transaction);
  }

  /** [{key, scope, size, savedAt, tokens}] of every stored snapshot, newest first. */
  async list() {
    const db = await this.open();
    const records = await promisify(db.transaction('snapshots', 'readonly').objectStore('snapshots').getAll());
    return records
      .map(({ key, scope, size, savedAt, promptIDs, replyIDs }) => ({ key, scope, size, savedAt, tokens: promptIDs.length + replyIDs.length }))
      .sort((a, b) => b.savedAt - a.savedAt);
  }

  /** Deletes every snapshot. */
  async clear() {
    const db = await this.open();
    const transaction = db.transaction(['snapshots', 'bytes'], 'readwrite');
    transaction.objectStore('snapshots').clear();
    transaction.objectStore('bytes').clear();
    await done(transaction);
  }

  /** Drops the least recently used snapshots beyond maxCount / maxBytes (never `keep`). */
  async prune(keep = null) {
    const all = await this.list();
    let bytes = 0;
    let count = 0;
    for (const entry of all) {
      bytes += entry.size;
      count++;
      if (entry.key !== keep && (count > this.maxCount || bytes > this.maxBytes)) {
        await this.delete(entry.key);
        bytes -= entry.size;
        count--;
      }
    }
  }
}
