// AI notes: a typed sentence becomes a structured note. The model's output is constrained to a
// schema built from the sentence (note-schema.js: the model writes the title and picks tags
// among the sentence's words; the date and the action items are read from the sentence, null
// and empty when it has none), by the core's JSON-schema constrained decoding, so it always
// parses and never invents a date; notes are kept in IndexedDB and shown with textContent
// only. Works offline once the model is stored.

import { TinyLM } from '../tinylm.js';
import { NOTE_PROMPT, noteSchema, tidyNote } from './note-schema.js';

const MODEL_URL = new URL('../models/SmolLM2-135M-Instruct.Q4_1.gguf', import.meta.url).href;

const $ = (id) => document.getElementById(id);

/** A tiny IndexedDB store of notes: {id, createdAt, source, title, date, tags, actionItems}. */
class NoteStore {
  #db = null;
  async open() {
    this.#db ??= await new Promise((resolve, reject) => {
      const request = indexedDB.open('tinylm-notes', 1);
      request.onupgradeneeded = () => request.result.createObjectStore('notes', { keyPath: 'id', autoIncrement: true });
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    return this.#db;
  }
  async #run(mode, body) {
    const db = await this.open();
    return new Promise((resolve, reject) => {
      const tx = db.transaction('notes', mode);
      const request = body(tx.objectStore('notes'));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error);
    });
  }
  add(note) { return this.#run('readwrite', (store) => store.add(note)); }
  all() { return this.#run('readonly', (store) => store.getAll()); }
}

const store = new NoteStore();
window.notesStore = store; // for the browser tests
let lm = null;

function render(notes) {
  const list = $('notes');
  list.replaceChildren();
  for (const note of notes.sort((a, b) => b.createdAt - a.createdAt)) {
    const item = document.createElement('li');
    item.className = 'note';
    const title = document.createElement('h3');
    title.textContent = note.title;
    const meta = document.createElement('div');
    meta.className = 'meta';
    meta.textContent = (note.date ? `Date ${note.date} · ` : '') + `from “${note.source}”`;
    const tags = document.createElement('div');
    tags.className = 'tags';
    for (const tag of note.tags) { const chip = document.createElement('span'); chip.textContent = tag; tags.append(chip); }
    item.append(title, meta, tags);
    if (note.actionItems.length) {
      const actions = document.createElement('ul');
      for (const text of note.actionItems) { const li = document.createElement('li'); li.textContent = `☐ ${text}`; actions.append(li); }
      item.append(actions);
    }
    list.append(item);
  }
}

/** Asks the model for a note about `sentence`; the schema guarantees the shape. */
export async function makeNote(model, sentence, today = new Date()) {
  // No worked example in the prompt: a 135M model copies it instead of reading the sentence.
  const result = await model.chat([{ role: 'system', content: NOTE_PROMPT }, { role: 'user', content: sentence }],
    { responseFormat: { type: 'json_schema', schema: noteSchema(sentence, today) }, temperature: 0, repeatPenalty: 1, maxTokens: 300 });
  const note = tidyNote(JSON.parse(result.text));
  return { ...note, source: sentence, createdAt: Date.now() };
}

async function main() {
  if ('serviceWorker' in navigator) navigator.serviceWorker.register('./sw.js').catch(() => {});
  render(await store.all());
  $('notes-status').textContent = 'Loading model…';
  lm = await TinyLM.load(MODEL_URL, {
    workerURL: new URL('./worker-entry.js', import.meta.url),
    onProgress: ({ phase, done, total }) => {
      $('notes-status').textContent = `${phase} ${total ? Math.round((100 * done) / total) : 0}%`;
    },
  });
  $('notes-status').textContent = 'Ready';
  $('note-make').disabled = false;
  $('note-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const sentence = $('note-input').value.trim();
    if (!sentence) return;
    $('note-make').disabled = true;
    $('notes-status').textContent = 'Thinking…';
    try {
      const note = await makeNote(lm, sentence);
      await store.add(note);
      $('note-input').value = '';
      render(await store.all());
      $('notes-status').textContent = 'Ready';
    } catch (error) {
      $('notes-status').textContent = `${error.name}: ${error.message}`;
    } finally {
      $('note-make').disabled = false;
    }
  });
}

main().catch((error) => { $('notes-status').textContent = `${error.name}: ${error.message}`; });
