// The settings dialog's Storage section: what this device keeps for the app. Each stored model
// with its size, version and what it was checked against, an available update (applied on
// request: only the changed chunks download), Delete; the quota and whether the browser
// promised to keep the data (persist(), asked for on request).

import { TinyLM, modelStore, formatBytes } from '../tinylm.js';

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
  const parts = [`${record.name} — ${size}`];
  if (!record.complete) parts.push(record.pending ? 'updating' : 'partial');
  if (record.version) parts.push(`version ${record.version}`);
  if (record.complete) parts.push(record.trust?.verified ? 'verified' : 'not verified');
  return parts.join(' · ');
}

/**
 * Fills `usage` (a <p>) and `list` (a <ul>) with the store's state. `onDeleted(record)` and
 * `onUpdated(record)` let the app react (e.g. reload the model in use).
 */
export async function renderStorage({ usage: usageElement, list, onDeleted = () => {}, onUpdated = () => {} }) {
  const render = () => renderStorage({ usage: usageElement, list, onDeleted, onUpdated });
  const usage = await modelStore.usage().catch(() => null);
  const stored = await modelStore.list().catch(() => []);
  // Some browsers (WebKitGTK) have no navigator.storage: no usage, quota or persistence to show.
  usageElement.replaceChildren(!usage ? 'Storage information is not available.'
    : usage.quota == null ? `Models: ${formatBytes(usage.models)}. This browser does not say how much space the site may use.`
    : `Models: ${formatBytes(usage.models)}. This site uses ${formatBytes(usage.usage)} of ${formatBytes(usage.quota)} allowed` +
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
    const item = element('li', '', { 'data-model': record.id });
    const label = element('span', describe(record));
    if (record.trust?.reason) label.title = record.trust.reason;
    item.append(label);
    if (record.update && record.url) {
      item.append(button(`Update to ${record.update.version} (${formatBytes(record.update.bytes)})`, async (node) => {
        try {
          await TinyLM.update(record.url, {
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
      await modelStore.delete(record.id);
      await render();
      onDeleted(record);
    }));
    list.append(item);
  }
}
