// The assistant's conversations, kept in IndexedDB (database "tinylm-app") so that a reload —
// or a visit without network — brings them back. One record per conversation:
//   {id, title, model, adapter (a LoRA adapter store id, or null), messages: [{role, content}], updated}

import { promisify } from '../idb.js';

const DB_NAME = 'tinylm-app';

export class Conversations {
  async open() {
    if (this.db) return this.db;
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore('conversations', { keyPath: 'id' });
    this.db = await promisify(request);
    return this.db;
  }

  async #store(mode) {
    return (await this.open()).transaction('conversations', mode).objectStore('conversations');
  }

  /** All conversations, most recently updated first. */
  async list() {
    const all = await promisify((await this.#store('readonly')).getAll());
    return all.sort((a, b) => b.updated - a.updated);
  }

  async get(id) { return promisify((await this.#store('readonly')).get(id)); }

  async save(conversation) {
    conversation.updated = Date.now();
    await promisify((await this.#store('readwrite')).put(conversation));
    return conversation;
  }

  async delete(id) { await promisify((await this.#store('readwrite')).delete(id)); }

  /** A new, unsaved conversation. */
  create(model) {
    return { id: crypto.randomUUID?.() ?? `${Date.now()}-${Math.random().toString(16).slice(2)}`, title: 'New chat', model, messages: [], updated: Date.now() };
  }
}
