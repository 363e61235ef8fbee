// The assistant's Documents view: files the user adds (.md, .txt, .html, or pasted text) become
// a knowledge base on this device (knowledge-base.js). A small embedding model, downloaded once
// into the same weight store as the chat models, splits and embeds them in its own Worker; the
// passages and vectors are kept in IndexedDB (database "tinylm-knowledge"), and chat answers
// can draw on them and cite them. Nothing is uploaded: the files are read in the page.
//
// The list is read from IndexedDB directly, so opening the view costs nothing; the embedding
// model starts only when it is needed (adding a document, or answering from them).

import { TinyLM, formatBytes } from '../tinylm.js';
import { KnowledgeBase, IndexedDBKnowledgeStorage } from '../knowledge-base.js';

/** The embedding model every document is indexed with (a knowledge base stays with one). */
export const EMBEDDER = {
  label: 'all-MiniLM-L6-v2', url: new URL('../models/all-MiniLM-L6-v2.gguf', import.meta.url).href, size: 46223584,
};
const BASE = 'tinylm-app-documents';
const USE_KEY = 'tinylm-app.use-documents';
const ACCEPTED = /\.(md|markdown|txt|text|html?)$/i;

export class Documents {
  /** `elements`: the view's DOM nodes (index.html); `workerURL`: where the Worker starts (worker-entry.js). */
  constructor(elements, { workerURL }) {
    this.ui = elements;
    this.workerURL = workerURL;
    this.storage = new IndexedDBKnowledgeStorage();
    this.list = []; // [{id, title, url, sourceBytes, chunks, bytes, addedAt}]
    this.opening = null; // Promise of the KnowledgeBase, once asked for
    this.busy = Promise.resolve();
    this.onChange = () => {};
  }

  /** Whether answers draw on the documents (the composer's toggle; remembered). */
  get enabled() { return this.list.length > 0 && localStorage.getItem(USE_KEY) !== 'off'; }

  /** Wires the view's controls and shows the stored documents. */
  async start() {
    const { files, drop, pasteTitle, pasteText, pasteAdd, use } = this.ui;
    files.addEventListener('change', () => { this.addFiles([...files.files]).catch(() => {}); files.value = ''; });
    drop.addEventListener('dragover', (event) => { event.preventDefault(); drop.classList.add('over'); });
    drop.addEventListener('dragleave', () => drop.classList.remove('over'));
    drop.addEventListener('drop', (event) => {
      event.preventDefault();
      drop.classList.remove('over');
      this.addFiles([...(event.dataTransfer?.files ?? [])]).catch(() => {});
    });
    pasteAdd.addEventListener('click', () => {
      const text = pasteText.value;
      if (!text.trim()) return;
      const title = pasteTitle.value.trim() || text.trim().split('\n')[0].slice(0, 60);
      pasteText.value = '';
      pasteTitle.value = '';
      this.add([{ id: `pasted:${Date.now()}`, title, text, format: 'text' }]).catch(() => {});
    });
    use.addEventListener('change', () => { localStorage.setItem(USE_KEY, use.checked ? 'on' : 'off'); this.#render(); });
    await this.refresh();
  }

  /** Reads the stored documents' list (no model needed) and redraws. */
  async refresh() {
    const stored = await this.storage.documents(BASE).catch(() => []);
    this.list = stored.map(({ id, title, url, sourceBytes, chunks, bytes, addedAt }) => ({ id, title, url, sourceBytes, chunks, bytes, addedAt }))
      .sort((a, b) => a.addedAt - b.addedAt);
    this.#render();
  }

  /**
   * The knowledge base, with the embedding model loaded (downloaded the first time, with
   * progress in the view). Resolves the same object on every call.
   */
  knowledge() {
    this.opening ??= (async () => {
      this.#progress(0, `Opening the embedding model ${EMBEDDER.label}…`);
      const embedder = await TinyLM.loadEmbedder(EMBEDDER.url, {
        workerURL: this.workerURL,
        onProgress: ({ phase, done, total }) => this.#progress(total ? done / total : 0, phase === 'download'
          ? `Downloading the embedding model (once): ${formatBytes(done)} / ${formatBytes(total)}`
          : phase === 'verify' ? 'Checking the stored embedding model…' : 'Starting the embedding model…'),
      });
      const kb = await KnowledgeBase.open(BASE, { embedder, storage: this.storage });
      this.#progress(null);
      return kb;
    })();
    this.opening.catch((error) => {
      this.opening = null;
      this.#progress(null);
      this.#status(`${error.name}: ${error.message}`);
    });
    return this.opening;
  }

  /** Adds Files (others than .md/.txt/.html are refused, with a note). */
  addFiles(files) {
    const accepted = files.filter((file) => ACCEPTED.test(file.name));
    const refused = files.filter((file) => !ACCEPTED.test(file.name)).map((file) => file.name);
    if (refused.length) this.#status(`Not added (only .md, .txt and .html): ${refused.join(', ')}`);
    if (accepted.length) return this.add(accepted);
    return Promise.resolve([]);
  }

  /** Adds documents (Files or {id, title, text, format}); one at a time, with progress. */
  add(documents) {
    const run = this.busy.then(async () => {
      const kb = await this.knowledge();
      const added = await kb.add(documents, {
        onProgress: ({ done, total, documentsDone, documentsTotal }) => this.#progress(total ? done / total : 0,
          `Indexing ${documentsDone + 1} of ${documentsTotal}: ${done} / ${total} passages`),
      });
      this.#progress(null);
      this.#status(`Added ${added.map((d) => `“${d.title || d.id}”`).join(', ')}.`);
      await this.refresh();
      return added;
    });
    this.busy = run.catch((error) => {
      this.#progress(null);
      this.#status(`${error.name}: ${error.message}`);
      return this.refresh();
    });
    return run;
  }

  /** Deletes a document from this device. */
  remove(id) {
    const run = this.busy.then(async () => {
      if (this.opening) await (await this.knowledge()).remove(id);
      else await this.storage.deleteDocument(BASE, id); // the index is not open: the stored copy is all there is
      await this.refresh();
    });
    this.busy = run.catch((error) => this.#status(`${error.name}: ${error.message}`));
    return run;
  }

  #render() {
    const { list, use, useLabel, count } = this.ui;
    list.replaceChildren();
    for (const entry of this.list) {
      const item = document.createElement('li');
      item.dataset.id = entry.id;
      const label = document.createElement('span');
      label.textContent = `${entry.title || entry.id} — ${formatBytes(entry.sourceBytes)}, ${entry.chunks} passage${entry.chunks === 1 ? '' : 's'}`;
      label.title = `${entry.id} · stored as ${formatBytes(entry.bytes)}`;
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.className = 'delete-document';
      remove.textContent = 'Delete';
      remove.setAttribute('aria-label', `Delete “${entry.title || entry.id}”`);
      remove.addEventListener('click', () => this.remove(entry.id).catch(() => {}));
      item.append(label, remove);
      list.append(item);
    }
    if (!this.list.length) {
      const empty = document.createElement('li');
      empty.className = 'empty';
      empty.textContent = 'No documents yet.';
      list.append(empty);
    }
    use.checked = this.enabled;
    useLabel.hidden = this.list.length === 0;
    count.textContent = this.list.length ? String(this.list.length) : '';
    this.onChange();
  }

  #progress(fraction, text = '') {
    const { progress, progressBar, progressText } = this.ui;
    progress.hidden = fraction === null;
    if (fraction !== null) {
      progressBar.value = fraction;
      progressText.textContent = text;
    }
  }

  #status(text) { this.ui.status.textContent = text; }
}
