// The assistant works offline only if its service worker caches every module the app can load.
// New modules are added to web/ often and web/app/sw.js's SHELL list is easy to forget (it
// happened: a release imported two modules the offline app could not fetch). This test follows
// the static imports and the `new URL('./x.js', import.meta.url)` worker scripts from the app's
// own files and checks that each file reached is in SHELL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const web = resolve(dirname(fileURLToPath(import.meta.url)), '../../web');
const app = join(web, 'app');

function shellFiles() {
  const source = readFileSync(join(app, 'sw.js'), 'utf8');
  const list = source.match(/const SHELL = \[([\s\S]*?)\]/);
  assert.ok(list, 'web/app/sw.js has a SHELL list');
  return new Set([...list[1].matchAll(/'([^']+)'/g)].map((m) => resolve(app, m[1])));
}

function referencedFiles(file) {
  const source = readFileSync(file, 'utf8');
  const found = [];
  const patterns = [
    /^\s*import\s[^;]*?from\s+'(\.{1,2}\/[^']+)'/gm, // import { x } from './y.js'
    /^\s*import\s+'(\.{1,2}\/[^']+)'/gm,              // import './y.js'
    /import\(\s*'(\.{1,2}\/[^']+)'\s*\)/g,            // import('./y.js')
    /new URL\(\s*'(\.{1,2}\/[^']+)'\s*,\s*import\.meta\.url\s*\)/g, // worker scripts, wasm modules
  ];
  for (const pattern of patterns) {
    for (const match of source.matchAll(pattern)) found.push(resolve(dirname(file), match[1]));
  }
  return found;
}

test('every module the offline assistant can load is in the service worker cache list', () => {
  const shell = shellFiles();
  const entries = [...shell].filter((file) => file.startsWith(app) && file.endsWith('.js') && !file.endsWith('sw.js'));
  assert.ok(entries.length > 3, 'the app has entry scripts in SHELL');
  const seen = new Set();
  const queue = [...entries];
  while (queue.length) {
    const file = queue.pop();
    if (seen.has(file)) continue;
    seen.add(file);
    if (file.endsWith('.js') && existsSync(file)) queue.push(...referencedFiles(file));
  }
  // Code only: models and documents live in IndexedDB, not in the shell cache.
  const missing = [...seen].filter((file) => /\.(js|wasm)$/.test(file) && !shell.has(file)).map((file) => relative(web, file));
  assert.deepEqual(missing, [], `add these to SHELL in web/app/sw.js (and bump its VERSION): ${missing.join(', ')}`);
  assert.ok(seen.has(join(web, 'worker.js')) && seen.has(join(web, 'tinylm.wasm')), 'the walk reached the engine');
});
