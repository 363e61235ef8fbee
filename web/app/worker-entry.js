// The TinyLM worker, started from inside the app's folder. A worker script is matched against
// service-worker scopes by its own URL, and ../worker.js lies outside this app's scope (./), so
// it would never be served offline. Starting the worker here puts it under sw.js's control, and
// then its imports (../worker.js, ../engine.js, ../tinylm.wasm…) come from the cache too.
import '../worker.js';
