#!/usr/bin/env python3
"""Benchmark (nothing asserted): reload to first token. Opens the root page in one browser
profile, loads the model once (download + store), then reloads the page `--runs` times and times
TinyLM.load(url) from IndexedDB plus one greedy token, in the page (worker start, wasm compile,
reading + checking every stored chunk, parsing, first token). Prints each run and the medians of
the whole and of each part (startup: until the first progress event).

    python3 Tests/browser/bench_reload.py [--engine chromium] [--runs 7] [--model models/SmolLM2-135M-Instruct.Q4_1.gguf]
"""
import argparse
import json
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from conftest import ENGINES, Browser, StaticServer  # noqa: E402

RELOAD = """
const [url] = args;
const { TinyLM } = await import('/tinylm.js');
const phases = {};
let phase = null, since = performance.now();
const start = performance.now();
const lm = await TinyLM.load(url, { onProgress: (p) => {
  if (p.phase !== phase) {
    const now = performance.now();
    // Before the first event: the worker starts, the wasm module compiles, the store is opened.
    if (phase) phases[phase] = (phases[phase] ?? 0) + now - since; else phases.startup = now - start;
    phase = p.phase; since = now;
  }
} });
const loaded = performance.now();
const { tokens } = await lm.generate([1, 504, 3575], { temperature: 0, maxTokens: 1 });
const first = performance.now();
if (phase) phases[phase] = (phases[phase] ?? 0) + loaded - since;
const out = { loadMs: loaded - start, firstTokenMs: first - start, downloaded: lm.loaded.downloaded, verified: lm.loaded.verified ?? null, phases, token: tokens[0] };
lm.terminate();
return out;
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--engine', default='chromium', choices=list(ENGINES))
    parser.add_argument('--runs', type=int, default=7)
    parser.add_argument('--model', default='models/SmolLM2-135M-Instruct.Q4_1.gguf')
    args = parser.parse_args()
    server = StaticServer().start()
    browser = Browser(ENGINES[args.engine])
    try:
        url = '/' + args.model
        browser.get(f'{server.url}/')
        first = browser.run(RELOAD, url)
        print(f"first visit: {json.dumps(first)}", file=sys.stderr)
        runs = []
        for _ in range(args.runs):
            browser.get(f'{server.url}/')
            result = browser.run(RELOAD, url)
            assert not result['downloaded'], result
            runs.append(result)
            print(json.dumps(result), file=sys.stderr)
        print(f"{args.engine} reload to first token, median of {len(runs)}: "
              f"{statistics.median(r['firstTokenMs'] for r in runs):.0f} ms "
              f"(load {statistics.median(r['loadMs'] for r in runs):.0f} ms, "
              f"startup {statistics.median(r['phases'].get('startup', 0) for r in runs):.0f} ms, "
              f"verify phase {statistics.median(r['phases'].get('verify', 0) for r in runs):.0f} ms, "
              f"parse {statistics.median(r['phases'].get('load', 0) for r in runs):.0f} ms, "
              f"first token {statistics.median(r['firstTokenMs'] - r['loadMs'] for r in runs):.0f} ms); load {os.getloadavg()[0]:.2f}")
    finally:
        browser.quit()
        server.stop()


if __name__ == '__main__':
    main()
