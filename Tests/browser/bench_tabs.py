#!/usr/bin/env python3
"""Benchmark (nothing asserted): tabs of one site with a shared engine (sharedEngine: true,
web/shared-engine.js) against an engine per tab (sharedEngine: false). For 1 and 3 tabs in a
fresh browser profile: the memory of the browser's processes (the sum of their PSS from
/proc/<pid>/smaps_rollup, so pages shared between processes count once; RSS summed too) with
the tabs open and with the model loaded in every tab, the engines' wasm memory (each engine
once), and the time from starting the loads in
all tabs at once until the last one is loaded, first with an empty store (download) and then
again from IndexedDB after every tab was reloaded. Then the speed the two cost in one page:
greedy prefill and decode, alternating shared and dedicated (a SharedWorker runs one thread;
the dedicated Worker of the cross-origin isolated test page runs several).

    python3 Tests/browser/bench_tabs.py [--engine chromium] [--tabs 1,3] [--rounds 4]
"""
import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from conftest import ENGINES, MODEL_PATH, Browser, StaticServer  # noqa: E402

START_LOAD = """
const { TinyLM } = await import('/tinylm.js');
window.loadStart = performance.timeOrigin + performance.now();
TinyLM.load('/%s', args[0]).then((lm) => { window.lm = lm; window.loadEnd = performance.timeOrigin + performance.now(); },
  (error) => { window.loadError = `${error.name}: ${error.message}`; });
""" % MODEL_PATH

SPEED = """
const { TinyLM } = await import('/tinylm.js');
const engines = { shared: await TinyLM.load('/%s', { sharedEngine: true }), dedicated: await TinyLM.load('/%s', { sharedEngine: false }) };
const prompt = 'Write a short story about a lighthouse keeper who finds a message in a bottle. It should be cheerful.';
const runs = { shared: [], dedicated: [] };
for (let round = 0; round < args[0]; round++) {
  for (const name of round %% 2 ? ['dedicated', 'shared'] : ['shared', 'dedicated']) {
    const lm = engines[name];
    await lm.unload(); await lm.load('/%s');  // an empty KV cache: the whole prompt is evaluated
    const { timings, usage } = await lm.generate(prompt, { temperature: 0, repeatPenalty: 1, ignoreEOS: true, maxTokens: 64 });
    runs[name].push({ prefillMs: timings.prefillMs, promptTokens: usage.promptTokens, decodeTokensPerSecond: timings.tokensPerSecond });
  }
}
const out = {};
for (const name of Object.keys(engines)) {
  const { threads, simd } = engines[name].loaded;
  out[name] = { threads, simd, runs: runs[name] };
  engines[name].terminate();
}
return out;
""" % (MODEL_PATH, MODEL_PATH, MODEL_PATH)


def process_tree(root):
    """The pids under `root` (inclusive), from /proc's parent links."""
    children = {}
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open(f'/proc/{entry}/stat') as f:
                    parent = int(f.read().rsplit(')', 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(parent, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def browser_memory(browser, samples=3):
    """{pss, rss} in MiB over the browser's processes: the median of `samples` a second apart."""
    taken = []
    for _ in range(samples):
        time.sleep(1)
        taken.append(memory_now(browser))
    return {key: statistics.median(sample[key] for sample in taken) for key in taken[0]}


def memory_now(browser):
    """{pss, rss} in MiB over the browser's processes (the driver's children, not the driver)."""
    driver_pid = browser.driver.service.process.pid
    totals = {'pss': 0, 'rss': 0}
    for pid in process_tree(driver_pid):
        if pid == driver_pid:
            continue
        try:
            with open(f'/proc/{pid}/smaps_rollup') as f:
                for line in f:
                    key, value = line.split(':', 1)
                    if key in ('Pss', 'Rss'):
                        totals[key.lower()] += int(value.split()[0])
        except OSError:
            continue
    return {key: round(value / 1024) for key, value in totals.items()}


def open_tabs(browser, url, count):
    driver = browser.driver
    browser.get(url)
    handles = [driver.current_window_handle]
    for _ in range(count - 1):
        driver.switch_to.new_window('tab')
        browser.get(url)
        handles.append(driver.current_window_handle)
    return handles


def load_all(browser, handles, options):
    """Starts the loads in every tab, waits for all; the ms from the first start to the last end."""
    for handle in handles:
        browser.driver.switch_to.window(handle)
        browser.run(START_LOAD, options)
    starts, ends = [], []
    for handle in handles:
        browser.driver.switch_to.window(handle)
        browser.wait_for('window.loadEnd || window.loadError', timeout=300, interval=0.05)
        error = browser.driver.execute_script('return window.loadError || null;')
        if error:
            raise RuntimeError(error)
        starts.append(browser.driver.execute_script('return window.loadStart;'))
        ends.append(browser.driver.execute_script('return window.loadEnd;'))
    return round(max(ends) - min(starts))


def measure(engine, tabs, shared):
    server = StaticServer().start()
    browser = Browser(ENGINES[engine])
    try:
        url = f'{server.url}/'
        handles = open_tabs(browser, url, tabs)
        idle = browser_memory(browser)
        options = {'sharedEngine': shared}
        cold = load_all(browser, handles, options)
        loaded = browser_memory(browser)
        # The engines' wasm memory, each engine counted once (shared: one instance for all tabs).
        engines = {}
        for handle in handles:
            browser.driver.switch_to.window(handle)
            status = browser.run('return await window.lm.status();')
            engines[(status.get('sharedEngine') or {}).get('instance', handle)] = status['memoryBytes']
        downloaded = sum(r['sent'] for r in server.model_requests())
        # Leave every tab (the engines go with them: a page in the back/forward cache lets go of
        # a shared engine itself), then load again from IndexedDB.
        for handle in handles:
            browser.driver.switch_to.window(handle)
            browser.get('about:blank')
        time.sleep(2)
        for handle in handles:
            browser.driver.switch_to.window(handle)
            browser.get(url)
        warm = load_all(browser, handles, options)
        return {'tabs': tabs, 'shared': shared, 'idleMiB': idle, 'loadedMiB': loaded,
                'modelMiB': {key: loaded[key] - idle[key] for key in idle},
                'engines': len(engines), 'wasmMiB': round(sum(engines.values()) / 2**20), 'coldLoadMs': cold, 'warmLoadMs': warm,
                'downloadedMB': round(downloaded / 1e6, 1)}
    finally:
        browser.quit()
        server.stop()


def speed(engine, rounds):
    server = StaticServer().start()
    browser = Browser(ENGINES[engine])
    try:
        browser.get(f'{server.url}/')
        return browser.run(SPEED, rounds)
    finally:
        browser.quit()
        server.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--engine', default='chromium', choices=list(ENGINES))
    parser.add_argument('--tabs', default='1,3')
    parser.add_argument('--rounds', type=int, default=4)
    parser.add_argument('--skip-speed', action='store_true')
    args = parser.parse_args()
    print(f'load before: {os.getloadavg()}', file=sys.stderr)
    for tabs in [int(n) for n in args.tabs.split(',')]:
        # Shared and dedicated alternate, so that a change in the machine's load hits both.
        for shared in (True, False):
            print(json.dumps(measure(args.engine, tabs, shared)), flush=True)
    if not args.skip_speed:
        result = speed(args.engine, args.rounds)
        for name, entry in result.items():
            runs = entry['runs']
            print(f"{name}: threads {entry['threads']}, {entry['simd']}: prefill {statistics.median(r['prefillMs'] for r in runs):.0f} ms "
                  f"for {runs[0]['promptTokens']} tokens, decode {statistics.median(r['decodeTokensPerSecond'] for r in runs):.1f} tokens/s "
                  f"(median of {len(runs)}; {json.dumps(runs)})", flush=True)
    print(f'load after: {os.getloadavg()}', file=sys.stderr)


if __name__ == '__main__':
    main()
