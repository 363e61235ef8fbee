// TinyLM Assistant: the chat page. The model runs in TinyLM's worker; weights live in IndexedDB
// (downloaded once per model), conversations too (conversations.js), and the service worker
// (sw.js) caches the page and the engine, so after the first visit it works with no network.
// Model text is rendered by markdown.js, which only creates DOM nodes (never HTML strings).

import { TinyLM, modelStore, formatBytes } from '../tinylm.js';
import { Conversations } from './conversations.js';
import { renderMarkdown } from './markdown.js';

/** The models the assistant offers; each is stored once (keyed by its URL). */
const MODELS = [
  {
    key: 'smollm2', label: 'SmolLM2 135M', url: new URL('../models/SmolLM2-135M-Instruct.Q4_1.gguf', import.meta.url).href,
    size: 98362432, sha256: 'b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53',
  },
  {
    key: 'gemma3', label: 'Gemma 3 270M', url: new URL('../models/gemma-3-270m-q4_k_m.gguf', import.meta.url).href,
    size: 253113024, sha256: 'a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818',
  },
];

const DEFAULTS = { model: 'smollm2', temperature: 0.7, topK: 40, topP: 0.95, minP: 0.05, repeatPenalty: 1.1, maxTokens: 512, seed: '', system: '' };
const SETTINGS_KEY = 'tinylm-app.settings';
const CURRENT_KEY = 'tinylm-app.conversation';

const $ = (id) => document.getElementById(id);
const conversations = new Conversations();
const app = {
  lm: null, settings: loadSettings(), conversation: null, loadedKey: null, ready: false,
  loading: null, // AbortController of the model load in progress
  generating: null, // AbortController of the answer in progress
};
window.tinylmApp = app; // for the browser tests and for curious developers

// --- settings -----------------------------------------------------------------------------

function loadSettings() {
  try { return { ...DEFAULTS, ...JSON.parse(localStorage.getItem(SETTINGS_KEY) || '{}') }; } catch { return { ...DEFAULTS }; }
}

function saveSettings() { localStorage.setItem(SETTINGS_KEY, JSON.stringify(app.settings)); }

function currentModel() { return MODELS.find((m) => m.key === app.settings.model) ?? MODELS[0]; }

function samplingOptions() {
  const s = app.settings;
  const number = (value, fallback) => (value === '' || value === null || !Number.isFinite(Number(value)) ? fallback : Number(value));
  return {
    temperature: number(s.temperature, DEFAULTS.temperature),
    topK: Math.round(number(s.topK, DEFAULTS.topK)),
    topP: number(s.topP, DEFAULTS.topP),
    minP: number(s.minP, DEFAULTS.minP),
    repeatPenalty: number(s.repeatPenalty, DEFAULTS.repeatPenalty),
    maxTokens: Math.max(1, Math.round(number(s.maxTokens, DEFAULTS.maxTokens))),
    seed: s.seed === '' ? Math.floor(Math.random() * 2 ** 31) : Math.round(Number(s.seed)),
  };
}

// --- status and progress ------------------------------------------------------------------

function setState(name, text) {
  document.body.dataset.state = name;
  $('status-text').textContent = text;
  app.ready = name === 'ready';
  $('send').disabled = !app.ready;
  $('send').hidden = name === 'generating';
  $('stop').hidden = name !== 'generating';
  $('download').hidden = !(name === 'absent' || name === 'error');
  $('cancel-download').hidden = name !== 'downloading';
  if (name !== 'downloading' && name !== 'verifying' && name !== 'loading') $('progress').hidden = true;
}

/** Progress callback with a speed estimate over the last few seconds. */
function progressReporter() {
  const samples = [];
  return ({ phase, done, total }) => {
    const now = performance.now();
    $('progress').hidden = false;
    $('progress-bar').value = total ? done / total : 0;
    if (phase === 'download') {
      samples.push([now, done]);
      while (samples.length > 2 && now - samples[0][0] > 3000) samples.shift();
      const [t0, d0] = samples[0];
      const speed = now - t0 > 250 ? (done - d0) / ((now - t0) / 1000) : null;
      setState('downloading', `Downloading ${currentModel().label}…`);
      $('progress-text').textContent = `${formatBytes(done)} / ${formatBytes(total)}${speed ? ` · ${formatBytes(speed)}/s` : ''}`;
    } else if (phase === 'verify') {
      setState('verifying', 'Checking the stored model and copying it into memory…');
      $('progress-text').textContent = `${formatBytes(done)} / ${formatBytes(total)}`;
    } else {
      setState('loading', 'Starting the model…');
      $('progress-text').textContent = '';
    }
  };
}

async function showStorage() {
  const usage = await modelStore.usage().catch(() => null);
  const stored = await modelStore.list().catch(() => []);
  // Some browsers (WebKitGTK) have no navigator.storage: no usage, quota or persistence to show.
  $('storage-usage').textContent = !usage ? 'Storage information is not available.'
    : usage.quota == null ? `Models: ${formatBytes(usage.models)}. This browser does not say how much space the site may use.`
    : `Models: ${formatBytes(usage.models)}. This site uses ${formatBytes(usage.usage)} of ${formatBytes(usage.quota)} allowed` +
      `${usage.persisted ? ' (persistent).' : ' (the browser may evict it under storage pressure).'}`;
  const list = $('stored-models');
  list.replaceChildren();
  for (const record of stored) {
    const item = document.createElement('li');
    const label = document.createElement('span');
    label.textContent = `${record.name} — ${formatBytes(record.complete ? record.size : record.received)}${record.complete ? '' : ' (partial)'}`;
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.textContent = 'Delete';
    remove.addEventListener('click', async () => {
      await modelStore.delete(record.id);
      showStorage();
      if (record.id === currentModel().url && !app.ready) prepareModel();
    });
    item.append(label, remove);
    list.append(item);
  }
}

// --- the model ----------------------------------------------------------------------------

/** Loads the selected model if it is stored; otherwise offers to download it. */
async function prepareModel() {
  const model = currentModel();
  if (app.loadedKey === model.key && app.ready) return;
  if (await modelStore.has(model.url)) return loadModel();
  setState('absent', `${model.label} is not on this device yet (${formatBytes(model.size)}, downloaded once).`);
  $('download').textContent = `Download ${formatBytes(model.size)}`;
}

async function loadModel() {
  const model = currentModel();
  app.loading?.abort();
  const controller = new AbortController();
  app.loading = controller;
  app.loadedKey = null;
  setState('loading', `Opening ${model.label}…`);
  try {
    app.lm ??= new TinyLM({ workerURL: new URL('./worker-entry.js', import.meta.url) }); // see worker-entry.js
    const result = await app.lm.load(model.url, { sha256: model.sha256, signal: controller.signal, onProgress: progressReporter() });
    if (app.loading !== controller) return; // another model was picked meanwhile
    app.loadedKey = model.key;
    const usage = await modelStore.usage().catch(() => null);
    app.readyText = `${model.label} ready · ${result.contextLength}-token context · models use ${formatBytes(usage?.models ?? result.size)}` +
      (usage?.quota ? ` of ${formatBytes(usage.quota - (usage.usage ?? 0) + (usage.models ?? 0))} available here` : ' on this device');
    setState('ready', app.readyText);
  } catch (error) {
    if (app.loading !== controller) return;
    if (error.name === 'AbortError') {
      setState('absent', `Download of ${model.label} paused; it resumes where it stopped.`);
      $('download').textContent = 'Resume download';
    } else {
      setState('error', `${error.name}: ${error.message}`);
      $('download').textContent = 'Retry';
    }
  } finally {
    if (app.loading === controller) app.loading = null;
  }
}

async function switchModel(key) {
  app.generating?.abort();
  app.loading?.abort();
  app.settings.model = key;
  saveSettings();
  app.ready = false;
  if (app.lm?.loaded) await app.lm.unload().catch(() => {});
  app.loadedKey = null;
  await prepareModel();
}

// --- conversations ------------------------------------------------------------------------

async function showConversations() {
  const list = $('conversations');
  list.replaceChildren();
  for (const conversation of await conversations.list()) {
    const item = document.createElement('li');
    item.classList.toggle('current', conversation.id === app.conversation?.id);
    const open = document.createElement('button');
    open.className = 'open';
    open.textContent = conversation.title;
    open.title = conversation.title;
    open.addEventListener('click', () => { openConversation(conversation); document.body.classList.remove('sidebar-open'); });
    const remove = document.createElement('button');
    remove.className = 'delete';
    remove.setAttribute('aria-label', `Delete “${conversation.title}”`);
    remove.textContent = '×';
    remove.addEventListener('click', async () => {
      await conversations.delete(conversation.id);
      if (conversation.id === app.conversation?.id) openConversation(conversations.create(app.settings.model));
      showConversations();
    });
    item.append(open, remove);
    list.append(item);
  }
}

function openConversation(conversation) {
  app.generating?.abort();
  app.conversation = conversation;
  localStorage.setItem(CURRENT_KEY, conversation.id);
  const list = $('messages');
  list.replaceChildren();
  for (const message of conversation.messages) addMessage(message.role, message.content, message.meta);
  showConversations();
}

function addMessage(role, content, meta = '') {
  const item = document.createElement('li');
  item.className = `message ${role}`;
  fillMessage(item, role, content, meta);
  $('messages').append(item);
  item.scrollIntoView({ block: 'end' });
  return item;
}

function fillMessage(item, role, content, meta) {
  // User text is shown as typed (textContent); model text as DOM-built Markdown.
  if (role === 'user') item.textContent = content;
  else item.replaceChildren(renderMarkdown(content));
  if (meta) {
    const small = document.createElement('small');
    small.className = 'meta';
    small.textContent = meta;
    item.append(small);
  }
}

/** The messages sent to the model: the system prompt and as many recent turns as fit. */
async function promptMessages(maxTokens) {
  const system = app.settings.system.trim();
  const history = app.conversation.messages.map(({ role, content }) => ({ role, content }));
  const context = app.lm.loaded.contextLength;
  for (;;) {
    const messages = system ? [{ role: 'system', content: system }, ...history] : history;
    if (history.length <= 1) return messages;
    const count = await app.lm.countTokens(messages);
    if (count + Math.min(maxTokens, context / 4) <= context) return messages;
    history.splice(0, history[0].role === 'user' && history.length > 2 ? 2 : 1); // drop the oldest turn
  }
}

async function send(text) {
  if (!app.ready || !text.trim()) return;
  const conversation = app.conversation;
  conversation.messages.push({ role: 'user', content: text });
  if (conversation.title === 'New chat') conversation.title = text.trim().replace(/\s+/g, ' ').slice(0, 60);
  conversation.model = app.settings.model;
  addMessage('user', text);
  await conversations.save(conversation);
  showConversations();

  const item = addMessage('assistant', '');
  item.classList.add('streaming');
  const controller = new AbortController();
  app.generating = controller;
  setState('generating', 'Answering… (Stop ends it at once)');
  const options = samplingOptions();
  let answer = '';
  let meta = '';
  let frame = 0;
  const render = () => {
    frame = 0;
    fillMessage(item, 'assistant', answer, '');
    item.scrollIntoView({ block: 'end' });
  };
  try {
    const messages = await promptMessages(options.maxTokens);
    const result = await app.lm.chat(messages, {
      ...options, signal: controller.signal,
      onToken: (piece) => { answer += piece; frame ||= requestAnimationFrame(render); },
    });
    answer = result.text.trim();
    const speed = result.timings.tokensPerSecond;
    meta = `${result.tokens.length} tokens${speed ? ` · ${speed.toFixed(1)} tokens/s` : ''}${result.reason === 'length' ? ' · reached the length limit' : ''}`;
  } catch (error) {
    if (error.name === 'AbortError') meta = 'stopped';
    else {
      item.classList.add('error');
      meta = `${error.name}: ${error.message}`;
    }
  }
  cancelAnimationFrame(frame);
  item.classList.remove('streaming');
  fillMessage(item, 'assistant', answer.trim(), meta);
  item.scrollIntoView({ block: 'end' });
  if (app.generating === controller) app.generating = null;
  // Saved to the conversation it answers, even if the user opened another one meanwhile.
  conversation.messages.push({ role: 'assistant', content: answer.trim(), meta });
  await conversations.save(conversation);
  if (app.loadedKey === currentModel().key && !app.loading) {
    setState('ready', app.readyText);
  }
}

// --- wiring -------------------------------------------------------------------------------

function wire() {
  const select = $('model');
  for (const model of MODELS) select.append(new Option(model.label, model.key));
  select.value = currentModel().key;
  select.addEventListener('change', () => switchModel(select.value));

  $('download').addEventListener('click', () => loadModel());
  $('cancel-download').addEventListener('click', () => app.loading?.abort());
  $('stop').addEventListener('click', () => app.generating?.abort());
  $('new-chat').addEventListener('click', () => { openConversation(conversations.create(app.settings.model)); document.body.classList.remove('sidebar-open'); $('input').focus(); });
  $('menu').addEventListener('click', () => {
    const open = document.body.classList.toggle('sidebar-open');
    $('menu').setAttribute('aria-expanded', String(open));
  });
  $('messages').addEventListener('click', () => document.body.classList.remove('sidebar-open'));

  const input = $('input');
  const grow = () => {
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight + 2, 160)}px`;
    input.style.overflowY = input.scrollHeight > 160 ? 'auto' : 'hidden'; // a scrollbar only when needed
  };
  input.addEventListener('input', grow);
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $('composer').requestSubmit();
    }
  });
  $('composer').addEventListener('submit', (event) => {
    event.preventDefault();
    if (!app.ready) return;
    const text = input.value;
    input.value = '';
    grow();
    send(text);
  });

  const dialog = $('settings');
  const form = dialog.querySelector('form');
  const fill = () => { for (const [key, value] of Object.entries(app.settings)) if (form.elements[key]) form.elements[key].value = value; };
  $('settings-open').addEventListener('click', () => { fill(); showStorage(); dialog.showModal(); });
  $('settings-reset').addEventListener('click', () => { app.settings = { ...DEFAULTS, model: app.settings.model }; fill(); saveSettings(); });
  form.addEventListener('change', (event) => {
    const { name, value } = event.target;
    if (name in DEFAULTS) { app.settings[name] = value; saveSettings(); }
  });

  const network = () => { $('network').hidden = navigator.onLine; };
  addEventListener('online', network);
  addEventListener('offline', network);
  network();
}

async function registerServiceWorker() {
  if (!('serviceWorker' in navigator)) return;
  try {
    await navigator.serviceWorker.register('./sw.js');
  } catch (error) {
    console.warn('TinyLM: no offline support (service worker registration failed):', error);
  }
}

async function main() {
  wire();
  registerServiceWorker();
  const saved = localStorage.getItem(CURRENT_KEY);
  openConversation((saved && await conversations.get(saved)) || conversations.create(app.settings.model));
  setState('starting', 'Looking for the model on this device…');
  await prepareModel();
}

main().catch((error) => setState('error', `${error.name}: ${error.message}`));
