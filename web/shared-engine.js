// One engine for the tabs of a site: the SharedWorker script that shared-engine-client.js
// connects the tabs to. It runs worker.js's engine (the same request handlers as a dedicated
// Worker) and routes the messages of every tab's MessagePort to it and back (protocol.js).
//
// One SharedWorker holds one model: the page names the SharedWorker after the model and its
// load options (shared-engine-client.js), so tabs that load the same model meet in the same
// one and a tab that loads another model gets another one. What the router adds:
//   - ids: each tab numbers its own requests; the engine sees router-wide ids.
//   - one load: a tab's load of the model another tab already loaded is answered with that
//     load's result (downloaded: false); a load waiting behind another tab's load gets the
//     model once that one finishes. The model is freed when the last tab that loaded it
//     unloads it or goes away; embedders and LoRA adapters likewise, per tab that loaded them.
//   - fairness: engine work (loads, generations, tokenizing, …) runs one request at a time,
//     taken from the tabs' queues in turn, so a tab that queues many requests does not starve
//     the others; status and test requests answer at once, as in the dedicated Worker.
//   - isolation: abort and unload stop the asking tab's requests only; a tab that is gone
//     (its Web Lock released: closed, crashed or navigated away) has its queued requests
//     dropped and the running one aborted; saveSession saves a conversation only for the tab
//     whose request last used the session (tabs share the model's one KV cache: a tab's turn
//     after another tab's reuses only the prompt prefix the two have in common).

import { handleMessage } from './worker.js';
import { namedError, serializeError } from './protocol.js';

/** Names this engine in status() answers, so pages and tests can tell whether they share it. */
const instance = Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, '0')).join('');
/** Why one thread runs, where the engine's own reason would blame the page: this worker is not
 *  isolated although the page is (browsers do not isolate SharedWorkers; DESIGN.md). */
const ONE_THREAD = 'a shared engine runs in a SharedWorker, which the browser gives no SharedArrayBuffer ' +
  '(not cross-origin isolated, even when the page is), so one thread runs; sharedEngine: false gives each tab ' +
  'a dedicated Worker, which runs threads where the page has SharedArrayBuffer';
/** Requests the dedicated Worker answers without queueing them behind engine work. */
const IMMEDIATE = new Set(['status', 'test']);
/** Things a tab loads besides the model: the request that frees one, and its field naming the loaded id. */
const RESOURCES = { embedderLoad: ['embedderUnload', 'embedder'], adapterLoad: ['adapterUnload', 'adapter'] };
const RELEASES = Object.fromEntries(Object.entries(RESOURCES).map(([load, [release, field]]) => [release, [load, field]]));

const tabs = []; // connected tabs, in the order they take turns
let turn = 0; // the index in `tabs` whose queue is looked at first
const internal = []; // the router's own engine requests (freeing what no tab uses any more)
const routes = new Map(); // engine-side id → {tab (null: internal), id (the tab's), type}
let nextID = 1;
let running = null; // the engine-side id of the engine work in progress
let model = null; // the engine's load result while a model is loaded
let modelLoads = 0; // how many times this engine loaded the model (each time one instance)
let sessionTab = null; // the tab whose request last used the session (saveSession's owner)

class Tab {
  constructor(port) {
    this.port = port;
    this.queue = []; // requests waiting for their turn
    this.live = new Map(); // the tab's id → engine-side id, for requests the engine runs
    this.usesModel = false;
    this.resources = new Set(); // 'adapterLoad:<id>' | 'embedderLoad:<id>'
    this.gone = false;
    this.pageIsolated = false; // the page is cross-origin isolated (its load request says so)
  }

  /** An engine answer (load or status) with the true reason for one thread. */
  explained(value) {
    return this.pageIsolated && !self.crossOriginIsolated && value?.threadsError ? { ...value, threadsError: ONE_THREAD } : value;
  }

  send(message) {
    if (!this.gone) this.port.postMessage(message);
  }

  fail(id, error) {
    this.send({ id, type: 'error', error: serializeError(error) });
  }
}

self.onconnect = ({ ports: [port] }) => {
  const tab = new Tab(port);
  tabs.push(tab);
  port.onmessage = ({ data }) => receive(tab, data);
};

function receive(tab, data) {
  if (tab.gone) return;
  switch (data.type) {
    case 'hello':
      // Granted once the tab's own hold on the lock ends: the tab closed, crashed or navigated.
      navigator.locks?.request(data.tab, () => drop(tab, 'the tab was closed'));
      return;
    case 'goodbye':
      drop(tab, 'the page let go of the shared engine');
      tab.port.postMessage({ type: 'goodbye' });
      return;
    case 'abort':
      abort(tab, data.id, namedError('AbortError', 'aborted by the caller'));
      return;
    case 'unload':
      for (const id of [...tab.queue.map((request) => request.id), ...tab.live.keys()]) {
        abort(tab, id, namedError('AbortError', 'stopped by unload()'));
      }
      tab.usesModel = false;
      // The model's adapters go with it (as in worker.js's unload), for this tab.
      const adapters = [...tab.resources].filter((key) => key.startsWith('adapterLoad:'));
      for (const key of adapters) tab.resources.delete(key);
      releaseUnused(adapters);
      tab.send({ id: data.id, type: 'result', value: true });
      return;
  }
  // isolationAdvice is null when the page is isolated (tinylm.js: what would fix it otherwise).
  if (data.type === 'load') tab.pageIsolated = data.options?.isolationAdvice === null;
  if (IMMEDIATE.has(data.type)) {
    run(tab, data);
    return;
  }
  tab.queue.push(data);
  pump();
}

/** Stops request `id` of `tab`: dropped from its queue (rejected at once) or aborted in the engine. */
function abort(tab, id, error) {
  const waiting = tab.queue.findIndex((request) => request.id === id);
  if (waiting >= 0) {
    tab.queue.splice(waiting, 1);
    tab.fail(id, error);
  } else if (tab.live.has(id)) {
    handleMessage({ type: 'abort', id: tab.live.get(id) }, post);
  }
}

/** Forgets a tab: its waiting requests go, its running one is aborted, what only it used is freed. */
function drop(tab, why) {
  if (tab.gone) return;
  for (const request of tab.queue) tab.fail(request.id, namedError('AbortError', why));
  tab.queue = [];
  for (const [id, engineID] of tab.live) {
    tab.fail(id, namedError('AbortError', why));
    handleMessage({ type: 'abort', id: engineID }, post);
  }
  tab.gone = true;
  tab.usesModel = false;
  const index = tabs.indexOf(tab);
  tabs.splice(index, 1);
  if (index < turn) turn--;
  if (sessionTab === tab) sessionTab = null;
  releaseUnused(tab.resources);
  tab.resources.clear();
}

/** Queues the freeing of the model (no tab uses it) and of `resources` no other tab holds. */
function releaseUnused(resources = []) {
  for (const key of resources) {
    if (tabs.some((other) => other.resources.has(key))) continue;
    const [type, id] = [key.slice(0, key.indexOf(':')), key.slice(key.indexOf(':') + 1)];
    const [release, field] = RESOURCES[type];
    internal.push({ type: release, [field]: id });
  }
  if (model && !tabs.some((tab) => tab.usesModel)) internal.push({ type: 'unload' });
  pump();
}

/** Starts the next engine request: the router's own first, then the tabs' in turn. */
function pump() {
  while (running === null) {
    if (internal.length) {
      const request = internal.shift();
      // A tab may have loaded the model again (or be about to) since the unload was queued.
      if (request.type === 'unload' && (!model || tabs.some((tab) => tab.usesModel || tab.queue.some((r) => r.type === 'load')))) continue;
      if (request.type === 'unload') model = null;
      run(null, request);
      continue;
    }
    const count = tabs.length;
    let tab = null;
    for (let step = 0; step < count && !tab; step++) {
      const candidate = tabs[(turn + step) % count];
      if (candidate.queue.length) {
        tab = candidate;
        turn = (turn + step + 1) % count;
      }
    }
    if (!tab) return;
    start(tab, tab.queue.shift());
  }
}

/** Runs one of a tab's engine requests, or answers it here when the router knows the answer. */
function start(tab, request) {
  const { id, type } = request;
  if (type === 'load' && model) {
    tab.usesModel = true;
    tab.send({ id, type: 'result', value: tab.explained({ ...model, downloaded: false, refetched: false }) });
    return;
  }
  if (RELEASES[type]) {
    const [load, field] = RELEASES[type];
    const key = `${load}:${request[field]}`;
    tab.resources.delete(key);
    if (tabs.some((other) => other.resources.has(key))) {
      tab.send({ id, type: 'result', value: true }); // another tab still uses it
      return;
    }
  }
  if (type === 'saveSession' && sessionTab !== tab) {
    tab.send({ id, type: 'result', value: { saved: false, reason: 'another tab used the shared engine after this tab\'s last answer' } });
    return;
  }
  if (type === 'generate' || type === 'restoreSession') sessionTab = tab;
  run(tab, request);
}

/** Hands a request to the engine (worker.js) under an engine-side id. */
function run(tab, request) {
  const engineID = nextID++;
  routes.set(engineID, { tab, id: request.id, type: request.type });
  if (tab) tab.live.set(request.id, engineID);
  if (!IMMEDIATE.has(request.type)) running = engineID;
  handleMessage({ ...request, id: engineID }, post);
}

/** The engine's answers and events, back to the tab that asked. */
function post(message) {
  const route = routes.get(message.id);
  if (!route) return;
  const { tab, id, type } = route;
  const final = message.type === 'result' || message.type === 'error';
  let value = message.value;
  if (final) {
    routes.delete(message.id);
    tab?.live.delete(id);
    if (message.type === 'result') {
      if (type === 'load') {
        model = value;
        modelLoads++;
        if (tab && !tab.gone) tab.usesModel = true;
      }
      if (RESOURCES[type] && tab) {
        const key = `${type}:${value.id}`;
        if (tab.gone) releaseUnused([key]); else tab.resources.add(key);
      }
      if (type === 'status') value = { ...value, sharedEngine: { instance, tabs: tabs.length, modelLoads } };
      if ((type === 'load' || type === 'status') && tab) value = tab.explained(value);
    } else if (type === 'load') {
      model = null; // a failed load leaves no model (worker.js frees the previous one first)
    }
  }
  tab?.send({ ...message, id, ...(final && message.type === 'result' ? { value } : {}) });
  if (final && running === message.id) {
    running = null;
    // A model loaded for a tab that went away meanwhile: free it if no other tab uses it.
    if (tab?.gone && type === 'load') releaseUnused();
    queueMicrotask(pump);
  }
}
