// Cross-origin isolation for static hosts that cannot send headers (GitHub Pages and the like).
//
// TinyLM runs its kernels on several threads only when the page is cross-origin isolated
// (SharedArrayBuffer). That normally takes two response headers on the page:
//   Cross-Origin-Opener-Policy: same-origin
//   Cross-Origin-Embedder-Policy: require-corp
// Where you cannot set them, copy this file into the folder of your pages (the site root
// covers the whole site) and load it from there as the page's first script:
//   <script src="/coi-serviceworker.js"></script>
// On the first visit it registers itself as a service worker for its folder and reloads the
// page once; from then on the service worker adds the headers to every same-origin response
// in that folder and below, so the page (and its workers) are isolated. A service worker
// only controls pages inside its own folder (browsers allow more only when the server sends
// a Service-Worker-Allowed header, which plain static hosts cannot), so loading this file
// from /tinylm/ on a page at / does nothing: it says so in the console, and TinyLM's
// loaded.threadsError says what to do. Without service workers (e.g. a private window that
// blocks them) nothing happens and TinyLM runs on one thread.
//
// Consequence of isolation: cross-origin resources the page embeds (images, scripts, a model on
// another host) must be served with CORS or Cross-Origin-Resource-Policy, as with the headers.
// Pages that already have a service worker (like app/sw.js) should add the headers there
// instead: one folder has one service worker.

/* eslint-env serviceworker, browser */
(() => {
  const HEADERS = {
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Embedder-Policy': 'require-corp',
    'Cross-Origin-Resource-Policy': 'same-origin',
  };

  if (typeof window === 'undefined') {
    // --- the service worker ---------------------------------------------------------------
    self.addEventListener('install', () => self.skipWaiting());
    self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
    self.addEventListener('fetch', (event) => {
      const request = event.request;
      if (new URL(request.url).origin !== self.location.origin) return; // leave others untouched
      // "only-if-cached" is only allowed with same-origin mode (a Chrome DevTools quirk).
      if (request.cache === 'only-if-cached' && request.mode !== 'same-origin') return;
      event.respondWith(fetch(request).then((response) => {
        if (response.status === 0 || response.type === 'opaqueredirect') return response;
        const headers = new Headers(response.headers);
        for (const [name, value] of Object.entries(HEADERS)) if (!headers.has(name)) headers.set(name, value);
        return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
      }));
    });
    return;
  }

  // --- the page: register, then reload once so the service worker serves the page ---------
  const reloadedKey = 'coi-serviceworker-reloaded';
  if (window.crossOriginIsolated) { sessionStorage.removeItem(reloadedKey); return; }
  if (!window.isSecureContext || !('serviceWorker' in navigator)) return;
  const script = document.currentScript?.src;
  if (!script) return;
  const scope = new URL('./', script);
  if (scope.origin !== window.location.origin || !window.location.pathname.startsWith(scope.pathname)) {
    console.warn(`coi-serviceworker: loaded from ${scope.pathname}, it can only isolate pages under ${scope.pathname}, ` +
      `not ${window.location.pathname}: copy coi-serviceworker.js to this page's folder or the site root and load it from there. ` +
      'TinyLM runs on one thread meanwhile.');
    return;
  }
  navigator.serviceWorker.register(script).then((registration) => {
    const reloadOnce = () => {
      // Once per session: if isolation still fails after a reload (say, the browser ignores
      // the headers), do not loop.
      if (sessionStorage.getItem(reloadedKey)) return;
      sessionStorage.setItem(reloadedKey, '1');
      window.location.reload();
    };
    if (navigator.serviceWorker.controller) {
      reloadOnce(); // controlled, yet not isolated: the page was loaded before the worker served it
    } else {
      navigator.serviceWorker.addEventListener('controllerchange', reloadOnce, { once: true });
    }
    registration.update?.();
  }, (error) => console.warn('coi-serviceworker: cannot register, TinyLM will run on one thread:', error));
})();
