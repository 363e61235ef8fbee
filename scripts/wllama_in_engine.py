#!/usr/bin/env python3
"""wllama's own benchmark page in any of the test engines: its engine-only figures where TinyLM runs.

    python3 scripts/wllama_in_engine.py --engine chromium|firefox|webkit|webkit-sab [--builds st,mt]
        [--model models/SmolLM2-135M-Instruct.Q4_1.gguf] [--reps 3] [--quiet-timeout 180]
        [--max-attempts 3] [--json FILE] [--wllama-bench ../shared/anchors/wllama-bench]

wllama (llama.cpp compiled to WebAssembly) has a benchmark beside this repository
(../shared/anchors/wllama-bench, read-only; see its README). Its bench.py drives Chromium only.
This script runs the same page (www/bench.html) in the engines of Tests/browser/conftest.py,
started exactly as the browser tests start them (WebKitGTK under xvfb-run), and serves www/
through that bench.py's own server (imported, not copied: the same COOP/COEP headers, the model
under /models/, and the /__quiet and /__cpu calls with which the page waits for a quiet machine
before each repetition and redoes one that other processes disturbed). The page gets the same
parameters bench.py passes it (128-token prompt, 128 decode steps, context 1024, the single-thread
build on 1 thread and the multi-thread build on 2, no OPFS). What matters here are wllama's
engine-only figures, `internal pp128` / `internal tg128` (its `_testBenchmark`, no JavaScript
round trips): scripts/bench-vs-wllama.py puts them next to TinyLM's in the same engine.

Before running, each build is checked in the engine: its wasm must compile, and the multi-thread
build needs SharedArrayBuffer (without it wllama would quietly load its single-thread build).
A build that cannot run is not run; the result says exactly why (`unsupported`), e.g. WebKitGTK
2.50 cannot compile either wllama 2.4.0 build: both use 64-bit memory (memory64), which
JavaScriptCore does not implement. Prints the bench's own summary; --json writes its result
(bench.py's structure, plus `engine`, `browserVersion` and `unsupported`).
"""
import argparse
import importlib.util
import json
import os
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
sys.path.insert(0, os.path.join(ROOT, 'Tests', 'browser'))
from bench import ENGINE_LABELS, run_with_display  # noqa: E402  (Tests/browser/bench.py)
from conftest import ENGINES, Browser  # noqa: E402

DEFAULT_BENCH = os.path.join(ROOT, '..', 'shared', 'anchors', 'wllama-bench')
BUILDS = {'st': {'name': 'single-thread', 'nThreads': 1}, 'mt': {'name': 'multi-thread', 'nThreads': 2}}

# What each build needs from the engine, checked in the page before the bench loads it. The
# memory64 probe is the smallest module with a 64-bit memory (limits flag 0x04): wllama 2.4.0's
# builds import one (flags 0x05 and 0x07, shared), and their glue makes it with
# `new WebAssembly.Memory({address: 'i64', initial: <BigInt>})`.
CHECK_BUILDS = """
const [builds, lib] = args;
const memory64 = WebAssembly.validate(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 5, 3, 1, 4, 1]));
let sharedArrayBuffer = false;
try { new MessageChannel().port1.postMessage(new SharedArrayBuffer(1)); sharedArrayBuffer = true; } catch (e) {}
const found = {};
for (const build of builds) {
  const problems = [];
  try {
    const response = await fetch(`./${lib}/${build.name}/wllama.wasm`, { cache: 'no-store' });
    await WebAssembly.compile(await response.arrayBuffer());
  } catch (error) {
    problems.push(`its wasm does not compile here (${error.name}: ${error.message})` +
      (memory64 ? '' : ': this engine has no 64-bit wasm memory (memory64), which wllama uses'));
  }
  if (build.nThreads > 1 && !sharedArrayBuffer) {
    problems.push(`no SharedArrayBuffer (crossOriginIsolated: ${self.crossOriginIsolated}), so no wasm threads: ` +
      'wllama would load its single-thread build instead');
  }
  found[build.name] = problems.join('; ') || null;
}
return { memory64, sharedArrayBuffer, crossOriginIsolated: self.crossOriginIsolated, builds: found };
"""


def log(message):
    print(message, file=sys.stderr, flush=True)


def load_anchor(directory):
    """The wllama bench's bench.py as a module (its server, monitor and summary); never written to."""
    path = os.path.join(directory, 'bench.py')
    if not os.path.exists(path):
        raise SystemExit(f"wllama's bench is not at {directory} (--wllama-bench DIR)")
    sys.dont_write_bytecode = True  # the folder is read-only
    spec = importlib.util.spec_from_file_location('wllama_anchor_bench', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def follow_page(browser, timeout):
    """Waits for the page's runBench to finish, echoing its log lines (the <pre id=log>: only
    Chromium's driver hands out console messages) to stderr."""
    shown = 0
    deadline = time.monotonic() + timeout
    while True:
        done, text = browser.driver.execute_script(
            "return [window.__done === true, document.getElementById('log').textContent];")
        for line in text[shown:].splitlines():
            log('  wllama: ' + line[:300])
        shown = len(text)
        if done:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f'wllama bench: no result after {timeout} s')
        time.sleep(2)


def run(args):
    anchor = load_anchor(args.wllama_bench)
    engine = ENGINES[args.engine]
    model_path = os.path.abspath(os.path.join(ROOT, args.model))
    builds = [BUILDS[b] for b in args.builds.split(',')]
    monitor = anchor.CpuMonitor()  # counts this process's descendants (driver, browser) as "mine"
    monitor.start()
    server = anchor.start_server(model_path, 0, monitor)
    base = f'http://127.0.0.1:{server.server_address[1]}'
    time.sleep(1.5)  # the monitor needs a few samples before the first quiet check (as bench.py)
    load_before = os.getloadavg()
    browser = Browser(engine)
    try:
        browser.driver.set_script_timeout(120)
        version = browser.driver.capabilities.get('browserVersion')
        log(f'wllama in {ENGINE_LABELS[engine.name]} {version}: {base}/bench.html?lib={args.lib}')
        browser.get(f'{base}/bench.html?lib={args.lib}')
        browser.wait_for('window.__ready === true', timeout=60)
        check = browser.run(CHECK_BUILDS, builds, args.lib)
        unsupported = {name: why for name, why in check['builds'].items() if why}
        for name, why in unsupported.items():
            log(f'  {name} build cannot run in {engine}: {why}')
        runnable = [b for b in builds if b['name'] not in unsupported]
        result = {'env': None, 'builds': []}
        if runnable:
            opts = {'modelUrl': f'{base}/models/{os.path.basename(model_path)}', 'nPrompt': 128, 'nGen': 128,
                    'reps': args.reps, 'quietMax': args.quiet_max, 'quietTimeout': args.quiet_timeout,
                    'maxAttempts': args.max_attempts, 'nCtx': 1024, 'builds': runnable, 'opfs': False}
            browser.driver.execute_script('window.runBench(arguments[0]);', opts)
            follow_page(browser, args.timeout)
            error = browser.driver.execute_script('return window.__error')
            if error:
                raise SystemExit(f'wllama bench failed in {engine}: {error}')
            result = browser.driver.execute_script('return window.__result')
        else:
            browser.run('await window.probeEnv();')
            result['env'] = browser.driver.execute_script('return window.__env')
    finally:
        browser.quit()
        server.shutdown()
        monitor.stop()
    result['builds'] += [{'name': b['name'], 'numThreads': b['nThreads'], 'error': 'not run: ' + unsupported[b['name']]}
                         for b in builds if b['name'] in unsupported]
    result.update(engine=engine.name, browserVersion=version, check=check, unsupported=unsupported,
                  loadavg_before=load_before, loadavg_after=os.getloadavg(),
                  sizes=anchor.file_sizes(args.lib), model={'path': args.model, 'bytes': os.path.getsize(model_path)})
    return anchor, result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--engine', default='chromium', choices=list(ENGINES))
    parser.add_argument('--builds', default='st,mt', help="wllama's builds: st (1 thread), mt (multi-thread build, 2 threads)")
    parser.add_argument('--model', default='models/SmolLM2-135M-Instruct.Q4_1.gguf')
    parser.add_argument('--reps', type=int, default=3)
    parser.add_argument('--quiet-max', type=float, default=0.15,
                        help='before each repetition the page waits until other processes use fewer cores than this')
    parser.add_argument('--quiet-timeout', type=float, default=180, help='at most this many seconds per wait')
    parser.add_argument('--max-attempts', type=int, default=3,
                        help='a repetition that other processes disturbed (> 2x --quiet-max cores) is redone, up to this many times')
    parser.add_argument('--timeout', type=float, default=5400, help='seconds for the whole bench page')
    parser.add_argument('--lib', default='wllama', help="the wllama build under the bench's www/")
    parser.add_argument('--wllama-bench', default=DEFAULT_BENCH, help="the wllama bench's folder (bench.py, www/)")
    parser.add_argument('--json', help='write the result here')
    args = parser.parse_args()
    run_with_display(args.engine)
    anchor, result = run(args)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=1)
    print(anchor.summarize(result))


if __name__ == '__main__':
    main()
