// The settings dialog's Storage section: what this device keeps for the app. Every stored
// file — models, embedders, LoRA adapters, knowledge files — with its kind, size, version and
// what it was checked against, an available update (applied on request: only the changed
// chunks download), Delete; the quota and whether the browser promised to keep the data
// (persist(), asked for on request).

import { modelStore, formatBytes } from '../tinylm.js';
import { adapterStore } from '../adapters.js';
import { knowledgeFileStore } from '../knowledge-files.js';
import { applyUpdate } from '../model-updates.js';

/** The stores a page keeps files in, and the kind of file each holds when the record does not say. */
const STORES = [
  { store: modelStore, kind: 'model' },
  { store: adapterStore, kind: 'adapter' },
  { store: knowledgeFileStore, kind: 'knowledge file' },
];
const KIND_ORDER = ['model', 'embedder', 'adapter', 'knowledge file'];

function element(tag, text = '', attributes = {}) {
  const node = document.createElement(tag);
  if (text) node.textContent = text;
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

function button(text, onClick) {
  const node = element('button', text, { type: 'button' });
  node.addEventListener('click', async () => {
    node.disabled = true;
    try { await onClick(node); } finally { node.disabled = false; }
  });
  return node;
}

function describe(record) {
  const size = formatBytes(record.complete ? record.size : (record.received ?? 0));
  const kind = record.kind[0].toUpperCase() + record.kind.slice(1);
  const parts = [`${kind}: ${record.name} — ${size}`];
  if (!record.complete) parts.push(record.pending ? 'updating' : 'partial');
  if (record.version) parts.push(`version ${record.version}`);
  if (record.complete) parts.push(record.trust?.verified ? 'verified' : 'not verified');
  return parts.join(' · ');
}

/** Every stored file of every store: [{...record, kind, store}], models first. */
async function storedFiles() {
  const lists = await Promise.all(STORES.map(async ({ store, kind }) => (await store.list().catch(() => []))
    .map((record) => ({ ...record, kind: record.kind ?? kind, store }))));
  return lists.flat().sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) || a.name.localeCompare(b.name));
}

/** Bytes a stored file takes (a partial one: what is stored so far). */
function storedBytes(record) {
  return record.complete ? record.size : (record.received ?? 0);
}

/**
 * Fills `usage` (a <p>) and `list` (a <ul>) with the stores' state. `onDeleted(record)` and
 * `onUpdated(record)` let the app react (e.g. reload the model in use).
 */
export async function renderStorage({ usage: usageElement, list, onDeleted = () => {}, onUpdated = () => {} }) {
  const render = () => renderStorage({ usage: usageElement, list, onDeleted, onUpdated });
  const usage = await modelStore.usage().catch(() => null);
  const stored = await storedFiles();
  const ours = formatBytes(stored.reduce((sum, record) => sum + storedBytes(record), 0));
  // Some browsers (WebKitGTK) have no navigator.storage: no usage, quota or persistence to show.
  usageElement.replaceChildren(!usage ? `Stored files: ${ours}. Storage information is not available.`
    : usage.quota == null ? `Stored files: ${ours}. This browser does not say how much space the site may use.`
    : `Stored files: ${ours}. This site uses ${formatBytes(usage.usage)} of ${formatBytes(usage.quota)} allowed` +
      `${usage.persisted ? ' (persistent: the browser keeps it).' : ' (the browser may evict it under storage pressure).'} `);
  usageElement.dataset.persisted = String(Boolean(usage?.persisted));
  if (usage && !usage.persisted && navigator.storage?.persist) {
    usageElement.append(button('Keep on this device', async () => {
      await modelStore.persist();
      await render();
    }));
  }
  list.replaceChildren();
  for (const record of stored) {
    const item = element('li', '', { 'data-model': record.id, 'data-kind': record.kind });
    const label = element('span', describe(record));
    if (record.trust?.reason) label.title = record.trust.reason;
    item.append(label);
    if (record.update && record.url) {
      item.append(button(`Update to ${record.update.version} (${formatBytes(record.update.bytes)})`, async (node) => {
        try {
          // A file stored under a publisher's key takes an update signed by that key only.
          await applyUpdate(record.store, record.url, { publicKey: record.trust?.publicKey ?? null,
            onProgress: ({ done, total }) => { node.textContent = `Updating… ${formatBytes(done)} / ${formatBytes(total)}`; },
          });
          onUpdated(record);
        } catch (error) {
          label.textContent = `${describe(record)} · update failed: ${error.message}`;
          return;
        }
        await render();
      }));
    }
    item.append(button('Delete', async () => {
      await record.store.delete(record.id);
      await render();
      onDeleted(record);
    }));
    list.append(item);
  }
}
