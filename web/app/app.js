// TinyLM Assistant: the chat page. The model runs in TinyLM's worker; weights live in IndexedDB
// (downloaded once per model), conversations too (conversations.js), and the service worker
// (sw.js) caches the page and the engine, so after the first visit it works with no network.
// Model text is rendered by markdown.js, which only creates DOM nodes (never HTML strings).

import { TinyLM, modelStore, formatBytes } from '../tinylm.js';
import { Conversations } from './conversations.js';
import { renderMarkdown } from './markdown.js';
import { renderStorage } from './storage-view.js';
import { Documents } from './documents.js';
import { AdapterPicker } from './adapter-picker.js';

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

// Sampling fields left empty use the model's recommended settings (lm.loaded.sampling: from the
// GGUF file or TinyLM's table); FALLBACK_SAMPLING only serves engines that know none.
const SAMPLING_FIELDS = ['temperature', 'topK', 'topP', 'minP', 'repeatPenalty'];
const DEFAULTS = { model: 'smollm2', temperature: '', topK: '', topP: '', minP: '', repeatPenalty: '', maxTokens: 512, seed: '', system: '' };
const FALLBACK_SAMPLING = { temperature: 0.7, topK: 40, topP: 0.95, minP: 0.05, repeatPenalty: 1.1, source: 'app' };
const SAMPLING_SOURCES = { gguf: "the model file's recommendation", table: "TinyLM's table for this model", default: 'default settings', app: "the app's defaults" };
// v2: v1 stored the old fixed sampling defaults, which would hide the model's recommendation.
const SETTINGS_KEY = 'tinylm-app.settings.v2';
const DOCUMENT_PASSAGES = 3; // passages of the user's documents per answer
const CURRENT_KEY = 'tinylm-app.conversation';

const $ = (id) => document.getElementById(id);
const WORKER_URL = new URL('./worker-entry.js', import.meta.url); // see worker-entry.js
const conversations = new Conversations();
const app = {
  lm: null, settings: loadSettings(), conversation: null, loadedKey: null, ready: false,
  availability: new Map(), // model key → {available, reason, size}
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

/** The loaded model's recommended sampling (complete), or the app's fallback. */
function recommendedSampling() { return app.lm?.loaded?.sampling ?? FALLBACK_SAMPLING; }

function samplingOptions() {
  const s = app.settings;
  const recommended = recommendedSampling();
  const number = (value, fallback) => (value === '' || value === null || value === undefined || !Number.isFinite(Number(value)) ? fallback : Number(value));
  const options = {};
  for (const key of SAMPLING_FIELDS) options[key] = number(s[key], recommended[key]);
  if (options.topK !== undefined) options.topK = Math.round(options.topK);
  options.maxTokens = Math.max(1, Math.round(number(s.maxTokens, DEFAULTS.maxTokens)));
  options.seed = s.seed === '' || s.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Math.round(Number(s.seed));
  return options;
}

/** One line: the settings the next answer uses, and where they come from. */
function samplingSummary() {
  const s = app.settings;
  const recommended = recommendedSampling();
  const used = samplingOptions();
  const names = { temperature: 'temperature', topK: 'top-k', topP: 'top-p', minP: 'min-p', repeatPenalty: 'repeat penalty' };
  const parts = SAMPLING_FIELDS.filter((key) => used[key] !== undefined)
    .map((key) => `${names[key]} ${used[key]}${s[key] !== '' && s[key] !== undefined ? ' (yours)' : ''}`);
  parts.push(s.seed === '' || s.seed === undefined ? 'random seed' : `seed ${used.seed}`, `up to ${used.maxTokens} tokens`);
  return `In use: ${parts.join(' · ')}. Empty fields take ${SAMPLING_SOURCES[recommended.source] ?? "the engine's defaults"}` +
    `${app.lm?.loaded ? '' : ' (known once the model is loaded)'}.`;
}

/** Shows the recommended values as the fields' placeholders, and the summary line. */
function showSampling() {
  const form = $('settings').querySelector('form');
  const recommended = recommendedSampling();
  for (const key of SAMPLING_FIELDS) if (form.elements[key]) form.elements[key].placeholder = recommended[key] ?? '';
  $('sampling-in-use').textContent = samplingSummary();
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

/** The settings dialog's Storage section (storage-view.js). */
function showStorage() {
  return renderStorage({
    usage: $('storage-usage'),
    list: $('stored-models'),
    onDeleted: (record) => { if (record.id === currentModel().url && !app.ready) prepareModel(); },
    // The model in use runs from memory: the new version opens on the next load.
    onUpdated: (record) => { if (record.id === currentModel().url && app.ready) setState('ready', `${app.readyText} · updated: reload to use the new version`); },
  });
}

// --- the model ----------------------------------------------------------------------------

/**
 * Whether `model` can be opened here: stored on this device, or on the server (a HEAD request,
 * which any static host answers). {available, stored, size, reason}.
 */
async function checkAvailability(model) {
  if (await modelStore.has(model.url).catch(() => false)) return { available: true, stored: true, size: model.size };
  const path = new URL(model.url).pathname;
  try {
    let response = await fetch(model.url, { method: 'HEAD', cache: 'no-store' });
    if (response.status === 405 || response.status === 501) { // a host without HEAD: ask for one byte
      response = await fetch(model.url, { headers: { Range: 'bytes=0-0' }, cache: 'no-store' });
      response.body?.cancel();
    }
    if (response.ok) return { available: true, stored: false, size: Number(response.headers.get('Content-Length')) || model.size };
    return {
      available: false,
      reason: `${model.label} is not on this server (HTTP ${response.status} for ${path}): ` +
        `run scripts/fetch-models.sh ${model.key} where the server runs, or put the file there.`,
    };
  } catch {
    return { available: false, reason: `${model.label} is not stored on this device, and the server cannot be reached (offline?).` };
  }
}

/** Checks every model and marks the unavailable ones in the picker, with the reason. */
async function refreshAvailability() {
  const results = await Promise.all(MODELS.map(checkAvailability));
  MODELS.forEach((model, index) => {
    app.availability.set(model.key, results[index]);
    const option = [...$('model').options].find((o) => o.value === model.key);
    if (!option) return;
    option.textContent = results[index].available ? model.label : `${model.label} (not available)`;
    option.title = results[index].reason ?? '';
    option.dataset.available = String(results[index].available);
  });
}

/** Loads the selected model if it is stored; otherwise offers to download it, or says why it cannot. */
async function prepareModel() {
  const model = currentModel();
  if (app.loadedKey === model.key && app.ready) return;
  if (await modelStore.has(model.url)) return loadModel();
  const availability = app.availability.get(model.key) ?? await checkAvailability(model);
  app.availability.set(model.key, availability);
  if (!availability.available) {
    setState('unavailable', availability.reason);
    return;
  }
  setState('absent', `${model.label} is not on this device yet (${formatBytes(availability.size)}, downloaded once).`);
  $('download').textContent = `Download ${formatBytes(availability.size)}`;
}

async function loadModel() {
  const model = currentModel();
  app.loading?.abort();
  const controller = new AbortController();
  app.loading = controller;
  app.loadedKey = null;
  setState('loading', `Opening ${model.label}…`);
  try {
    app.lm ??= new TinyLM({ workerURL: WORKER_URL });
    const result = await app.lm.load(model.url, { sha256: model.sha256, signal: controller.signal, onProgress: progressReporter() });
    if (app.loading !== controller) return; // another model was picked meanwhile
    app.loadedKey = model.key;
    app.availability.set(model.key, { available: true, stored: true, size: result.size });
    const usage = await modelStore.usage().catch(() => null);
    const threads = `${result.threads} thread${result.threads === 1 ? '' : 's'}`;
    app.readyText = `${model.label} ready · ${result.contextLength}-token context · ${threads} · models use ${formatBytes(usage?.models ?? result.size)}` +
      (usage?.quota ? ` of ${formatBytes(usage.quota - (usage.usage ?? 0) + (usage.models ?? 0))} available here` : ' on this device')
      + (result.update ? ` · update available (${formatBytes(result.update.bytes)}): Settings › Storage` : '');
    $('status-text').title = result.threadsError ? `Why not more threads: ${result.threadsError}` : '';
    setState('ready', app.readyText);
    showSampling();
    await restoreConversationCache(app.conversation);
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
  app.adapters?.show(conversation.adapter ?? '');
  const list = $('messages');
  list.replaceChildren();
  for (const message of conversation.messages) addMessage(message.role, message.role === 'user' ? message.content : message.content.trim(), message.meta, message.sources);
  showConversations();
  restoreConversationCache(conversation);
}

/**
 * Puts the KV cache saved after the conversation's last answer back into the engine (when the
 * model is ready and the conversation has an answer), so that the next question evaluates only
 * itself. A missing, stale or mismatched snapshot is skipped: the question then evaluates the
 * history as usual. app.lastRestore says what happened (the browser tests read it).
 */
async function restoreConversationCache(conversation) {
  if (!app.ready || !app.lm?.loaded || conversation.messages.at(-1)?.role !== 'assistant') return;
  const messages = await promptMessages(conversation, samplingOptions().maxTokens);
  if (conversation !== app.conversation) return;
  app.lastRestore = await app.lm.restoreSession(messages).catch((error) => ({ restored: false, reason: `${error.name}: ${error.message}` }));
}

function addMessage(role, content, meta = '', sources = null) {
  const item = document.createElement('li');
  item.className = `message ${role}`;
  fillMessage(item, role, content, meta, sources);
  $('messages').append(item);
  item.scrollIntoView({ block: 'end' });
  return item;
}

function fillMessage(item, role, content, meta, sources = null) {
  // User text is shown as typed (textContent); model text as DOM-built Markdown.
  if (role === 'user') item.textContent = content;
  else item.replaceChildren(renderMarkdown(content));
  if (sources) item.append(sourceList(sources));
  if (meta) {
    const small = document.createElement('small');
    small.className = 'meta';
    small.textContent = meta;
    item.append(small);
  }
}

/**
 * The passages an answer drew on, numbered as in the prompt ([1] is the first): each one's
 * document and heading, opening to the passage itself.
 */
function sourceList(sources) {
  const list = document.createElement('div');
  list.className = 'sources';
  if (!sources.length) list.textContent = 'No passage of your documents matched.';
  sources.forEach((source, index) => {
    const details = document.createElement('details');
    details.dataset.documentId = source.documentId;
    details.dataset.chunk = String(source.chunk);
    const summary = document.createElement('summary');
    const title = source.title || source.documentId;
    // Headings often start with the document's title (its first heading): name it once.
    const place = !source.heading ? title : source.heading.startsWith(title) ? source.heading : `${title} › ${source.heading}`;
    summary.textContent = `[${index + 1}] ${place}`;
    summary.title = `similarity ${source.score.toFixed(3)}`;
    const passage = document.createElement('p');
    passage.textContent = source.text;
    details.append(summary, passage);
    list.append(details);
  });
  return list;
}

/**
 * The messages sent to the model: the system prompt and the conversation. When it no longer
 * fits, the oldest turns go, down to half the context: the next turns then extend this prompt
 * and reuse its KV cache for a while, instead of dropping one turn (and evaluating everything
 * again) at every turn.
 */
async function promptMessages(conversation, maxTokens, continued = '', passageTokens = 0) {
  const system = app.settings.system.trim();
  const history = conversation.messages.map(({ role, content }) => ({ role, content }));
  const context = app.lm.loaded.contextLength;
  const reserve = Math.min(maxTokens, context / 4) + passageTokens;
  const tail = continued ? [{ role: 'assistant', content: continued }] : [];
  const build = () => [...(system ? [{ role: 'system', content: system }] : []), ...history, ...tail];
  let count = await app.lm.countTokens(build(), { continue: Boolean(continued) });
  if (count + reserve <= context) return build();
  while (history.length > 1 && count + reserve > context / 2) {
    history.splice(0, history[0].role === 'user' && history.length > 2 ? 2 : 1); // the oldest turn
    count = await app.lm.countTokens(build(), { continue: Boolean(continued) });
  }
  return build();
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
  await answer(conversation, addMessage('assistant', ''), '');
}

/** Goes on with the conversation's last answer, which the length limit cut. */
async function continueAnswer(conversation) {
  const last = conversation.messages.at(-1);
  const items = $('messages').querySelectorAll('.message.assistant');
  if (!app.ready || conversation !== app.conversation || last?.role !== 'assistant' || !items.length) return;
  conversation.messages.pop();
  await answer(conversation, items[items.length - 1], last.content);
}

/**
 * Streams the model's answer into `item` and saves it. `before`: an answer cut by the length
 * limit that this one continues. Answers are kept as the model wrote them (not trimmed), so
 * the next turn's prompt starts with exactly what the model's cache holds.
 */
async function answer(conversation, item, before) {
  item.classList.add('streaming');
  const controller = new AbortController();
  app.generating = controller;
  setState('generating', 'Answering… (Stop ends it at once)');
  const options = samplingOptions();
  let reply = before;
  let meta = '';
  let result = null;
  let sources = null;
  let frame = 0;
  const render = () => {
    frame = 0;
    fillMessage(item, 'assistant', reply.trim(), '');
    item.scrollIntoView({ block: 'end' });
  };
  const started = performance.now();
  let firstTokenMs = null;
  try {
    // With documents: the best passages go into the prompt (k of them, about 200 tokens each).
    const knowledge = app.documents.enabled ? await app.documents.knowledge() : null;
    const messages = await promptMessages(conversation, options.maxTokens, before, knowledge ? DOCUMENT_PASSAGES * 200 : 0);
    result = await app.lm.chat(messages, {
      ...options, continue: Boolean(before), signal: controller.signal, adapters: await app.adapters.options(conversation.adapter),
      ...(knowledge ? { knowledge, k: DOCUMENT_PASSAGES } : {}),
      onToken: (piece) => {
        firstTokenMs ??= performance.now() - started;
        reply += piece;
        frame ||= requestAnimationFrame(render);
      },
    });
    reply = before + result.text;
    sources = result.sources?.map(({ documentId, title, url, heading, text, score, chunk }) => ({ documentId, title, url, heading, text, score, chunk })) ?? null;
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
  // For the curious (and the benchmark): time to the first text, and how much of the prompt the cache held.
  app.lastAnswer = { firstTokenMs, usage: result?.usage ?? null, timings: result?.timings ?? null, reason: result?.reason ?? meta };
  item.classList.remove('streaming');
  fillMessage(item, 'assistant', reply.trim(), meta, sources);
  if (result?.sampling) item.title = describeSampling(result.sampling);
  if (result?.reason === 'length') addContinueButton(item, conversation);
  item.scrollIntoView({ block: 'end' });
  if (app.generating === controller) app.generating = null;
  // Saved to the conversation it answers, even if the user opened another one meanwhile.
  conversation.messages.push({ role: 'assistant', content: item.classList.contains('error') ? reply.trim() : reply, meta, ...(sources ? { sources } : {}) });
  await conversations.save(conversation);
  // The KV cache of this turn, so that reopening the conversation after a reload answers
  // without evaluating its history again (restoreConversationCache).
  if (result) app.lastSave = await app.lm.saveSession().catch((error) => ({ saved: false, reason: `${error.name}: ${error.message}` }));
  if (app.loadedKey === currentModel().key && !app.loading) {
    setState('ready', app.readyText);
  }
}

function describeSampling({ temperature, topK, topP, minP, repeatPenalty, seed }) {
  return `temperature ${temperature} · top-k ${topK} · top-p ${topP} · min-p ${minP} · repeat penalty ${repeatPenalty} · seed ${seed}`;
}

function addContinueButton(item, conversation) {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'continue';
  button.textContent = 'Continue';
  button.addEventListener('click', () => { button.remove(); continueAnswer(conversation); });
  (item.querySelector('.meta') ?? item).append(' ', button);
}

// --- wiring -------------------------------------------------------------------------------

function wire() {
  const select = $('model');
  for (const model of MODELS) select.append(new Option(model.label, model.key));
  select.value = currentModel().key;
  select.addEventListener('change', () => switchModel(select.value));
  // A LoRA adapter per conversation (adapter-picker.js).
  app.adapters = new AdapterPicker({
    select: $('adapter'), fileInput: $('adapter-file'), getLM: () => app.lm,
    onPick: (id) => {
      app.conversation.adapter = id || null;
      if (app.conversation.messages.length) conversations.save(app.conversation);
    },
    onError: (error) => { $('status-text').textContent = `${error.name}: ${error.message}`; },
  });

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
  $('settings-open').addEventListener('click', () => { fill(); showSampling(); showStorage(); dialog.showModal(); });
  $('settings-reset').addEventListener('click', () => { app.settings = { ...DEFAULTS, model: app.settings.model }; fill(); saveSettings(); showSampling(); });
  form.addEventListener('change', (event) => {
    const { name, value } = event.target;
    if (name in DEFAULTS) { app.settings[name] = value; saveSettings(); showSampling(); }
  });

  const documentsDialog = $('documents');
  $('documents-open').addEventListener('click', () => { app.documents.refresh(); documentsDialog.showModal(); });

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
  app.documents = new Documents({
    files: $('document-files'), drop: $('drop-zone'), pasteTitle: $('paste-title'), pasteText: $('paste-text'), pasteAdd: $('paste-add'),
    progress: $('documents-progress'), progressBar: $('documents-progress-bar'), progressText: $('documents-progress-text'),
    status: $('documents-status'), list: $('document-list'), use: $('use-documents'), useLabel: $('use-documents-label'), count: $('documents-count'),
  }, { workerURL: WORKER_URL });
  wire();
  await app.documents.start();
  registerServiceWorker();
  const saved = localStorage.getItem(CURRENT_KEY);
  openConversation((saved && await conversations.get(saved)) || conversations.create(app.settings.model));
  setState('starting', 'Looking for the model on this device…');
  await refreshAvailability();
  await prepareModel();
}

main().catch((error) => setState('error', `${error.name}: ${error.message}`));
