// The assistant's service worker: keeps the app shell and the engine (JS + wasm) in the Cache
// API so the assistant opens with no network. Model weights are NOT cached here — they live in
// IndexedDB (model-store.js), and a second copy would double the storage used.
//
// Strategy: stale-while-revalidate. A cached file is answered at once (instant and offline) and
// refreshed in the background, so an update shows on the next visit. Bump VERSION to drop old
// caches when the list of files changes.
//
// Every answer carries the cross-origin isolation headers (COOP/COEP), so the app gets threads
// (SharedArrayBuffer, tinylm-mt.wasm) even on a static host that cannot send them: from the
// first visit the service worker controls, i.e. the next load.

const VERSION = 'v12';
const CACHE = `tinylm-app-${VERSION}`;
const SHELL = [
  './', './index.html', './app.js', './app.css', './conversations.js', './markdown.js', './manifest.webmanifest',
  './worker-entry.js', './storage-view.js', './documents.js', './adapter-picker.js', './notes.html', './notes.js', './note-schema.js', './icons/icon.svg', './icons/icon-192.png', './icons/icon-512.png',
  '../tinylm.js', '../protocol.js', '../openai.js', '../worker.js', '../engine.js', '../wasi.js', '../model-store.js', '../sha256.js', '../idb.js', '../session-snapshots.js', '../session-snapshot-worker.js', '../tinylm.wasm',
  '../adapters.js', '../adapter-worker.js', '../embedder.js', '../knowledge-base.js', '../knowledge-worker.js',
  '../threads.js', '../kernel-worker.js', '../core-count.js', '../tinylm-mt.wasm', '../tinylm-relaxed.wasm', '../tinylm-mt-relaxed.wasm',
  '../model-trust.js', '../model-updates.js', '../manifest.js', '../trusted-file.js', '../knowledge-files.js',
  '../shared-engine-client.js', '../shared-engine.js', '../tool-call-stream.js',
].map((path) => new URL(path, self.location.href).href);

const ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/** `response` with the isolation headers added (when the server did not send them). */
function isolated(response) {
  if (!response || response.status === 0 || response.type === 'opaqueredirect') return response;
  if (Object.keys(ISOLATION).every((name) => response.headers.has(name))) return response;
  const headers = new Headers(response.headers);
  for (const [name, value] of Object.entries(ISOLATION)) if (!headers.has(name)) headers.set(name, value);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

self.addEventListener('install', (event) => {
  // cache: 'reload' bypasses the HTTP cache, so the shell is fresh from the server.
  event.waitUntil(caches.open(CACHE)
    .then((cache) => cache.addAll(SHELL.map((url) => new Request(url, { cache: 'reload' }))))
    .then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) if (key.startsWith('tinylm-app-') && key !== CACHE) await caches.delete(key);
    await self.clients.claim(); // control the page that registered us, so it works offline at once
  })());
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET' || request.headers.has('Range')) return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  const key = url.origin + url.pathname; // ignore ?query
  if (!SHELL.includes(key)) return; // models, test endpoints, other pages: straight to the network
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const cached = await cache.match(key);
    const refresh = fetch(request, { cache: 'no-cache' }).then((response) => {
      if (response.ok && response.status === 200) cache.put(key, response.clone());
      return response;
    });
    if (cached) {
      event.waitUntil(refresh.catch(() => {})); // offline: keep the cached copy
      return isolated(cached);
    }
    return isolated(await refresh);
  })());
});
