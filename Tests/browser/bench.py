#!/usr/bin/env python3
"""Browser benchmark (not a test: nothing is asserted). Opens web/bench.html under
scripts/serve.py (cross-origin isolated, so it can use threads) in one engine and prints, per
module build and thread count: prompt and decode speed, the load from IndexedDB ("reload") and
the wasm memory; also the first visit (download + store + verify + load).

    python3 Tests/browser/bench.py [--engine chromium|firefox|webkit|webkit-sab] [--simd relaxed-simd,simd128]
                                   [--threads 1,2] [--tokens 128] [--prompt 128] [--fixed-threads]
                                   [--model models/gemma-3-270m-q4_k_m.gguf] [--markdown] [--json FILE]
                                   [--adapter ADAPTER.gguf [--adapter-scale 1] [--rounds 3]]

Engines as in the tests (Tests/browser/conftest.py): webkit has no SharedArrayBuffer, so one
thread; webkit-sab is WebKitGTK with JSC_useSharedArrayBuffer=1 (threads, as in Safari). WebKit
runs under xvfb-run (started here when there is no display). Engines without relaxed SIMD run
the SIMD128 module whatever --simd asks. Before each page visit it waits for a quiet machine
(scripts/quiet_machine.py). --markdown prints a table for BENCHMARKS.md; --json writes every
figure (scripts/bench-vs-wllama.py reads it). With --adapter (a LoRA adapter for the model) each
run measures without and with it in turns, --rounds times each, and prints both and their ratio.
"""
import argparse
import datetime
import json
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, '..', '..', 'scripts'))
from conftest import ENGINES, Browser, StaticServer  # noqa: E402
from quiet_machine import load_note, wait_for_quiet  # noqa: E402

ENGINE_LABELS = {'chromium': 'Chromium', 'firefox': 'Firefox ESR', 'webkit': 'WebKitGTK',
                 'webkit-sab': 'WebKitGTK (SharedArrayBuffer on)'}


def log(message):
    print(message, file=sys.stderr, flush=True)


def run_visits(args):
    engine = ENGINES[args.engine]
    fixed = '&fixed=1' if args.fixed_threads else ''
    simds = args.simd.split(',')
    threads = args.threads
    if not engine.has('shared_memory') and threads != '1':
        # More threads would run one thread again (the page says why in threadsError): a second,
        # slow one-thread measurement that the tables drop.
        log(f"{engine}: one thread only ({engine.lacks['shared_memory']})")
        threads = '1'
    visits = [('first visit', '&fresh=1', simds[0])] + [('reload', '', simd) for simd in simds]
    quiet_records = []
    results = {'engine': engine.name, 'model': args.model, 'date': f'{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M}',
               'visits': []}
    model, adapter, models_dir = args.model, '', None
    if args.adapter:
        # One served folder holding the model and the adapter (as Tests/browser/test_adapters.py).
        models_dir = tempfile.mkdtemp(prefix='tinylm-bench-')
        for source in (args.model, args.adapter):
            os.symlink(os.path.realpath(source), os.path.join(models_dir, os.path.basename(source)))
        model = f'models/{os.path.basename(args.model)}'
        adapter = f'&adapter=models/{os.path.basename(args.adapter)}&scale={args.adapter_scale}&rounds={args.rounds}'
    server = StaticServer(*(['--models-dir', models_dir] if models_dir else [])).start()
    browser = Browser(engine)
    try:
        results['browserVersion'] = browser.driver.capabilities.get('browserVersion')
        for label, fresh, simd in visits:
            quiet_records.append(wait_for_quiet(args.max_busy, args.max_load, timeout=args.quiet_timeout, log=log))
            browser.get(f'{server.url}/bench.html?auto=1&model={model}&prompt={args.prompt}&tokens={args.tokens}'
                        f'&threads={threads}{fresh}{fixed}&simd={simd}{adapter}')
            result = browser.wait_for('window.benchResult', timeout=1800, interval=1)
            if 'error' in result:
                raise SystemExit(f"bench failed in {engine}: {result['error']}")
            result.update(label=label, asked=simd, quiet=quiet_records[-1])
            results['visits'].append(result)
            log(f"{engine} {label}: load {result['loadMs']:.0f} ms (downloaded: {result['downloaded']}; phases: "
                f"{json.dumps({k: round(v) for k, v in result['phasesMs'].items()})}); "
                f"cross-origin isolated: {result['crossOriginIsolated']}, navigator.hardwareConcurrency {result['cores']}")
            for run in result['runs']:
                note = f" ({run['threadsError']})" if run['threadsError'] else ''
                if run.get('threadSections'):
                    note += f" (sections parallel/serial: {run['threadSections']['parallel']}/{run['threadSections']['serial']})"
                log(f"  {run['threads']} thread(s), {run['simd']}{note}: prompt {run['prefillTokensPerSecond']:.1f} tokens/s; "
                    f"decode {run['decodeTokensPerSecond']:.1f} tokens/s; load {run['loadMs']:.0f} ms; "
                    f"wasm memory {run['memoryBytes'] / 2**20:.0f} MiB")
                if 'adapter' in run:
                    with_adapter = run['adapter']
                    log(f"    with the adapter: prompt {with_adapter['prefillTokensPerSecond']:.1f} tokens/s "
                        f"({with_adapter['prefillTokensPerSecond'] / run['prefillTokensPerSecond']:.3f}); decode "
                        f"{with_adapter['decodeTokensPerSecond']:.1f} tokens/s "
                        f"({with_adapter['decodeTokensPerSecond'] / run['decodeTokensPerSecond']:.3f})")
    finally:
        browser.quit()
        server.stop()
        if models_dir:
            shutil.rmtree(models_dir)
    results['load'] = load_note(quiet_records)
    return results


def rows(results):
    """The reload visits' runs, one per (module, threads) that really ran (an engine without
    relaxed SIMD answers a relaxed-SIMD request with the SIMD128 module: counted once)."""
    seen = set()
    for visit in results['visits']:
        if visit['label'] != 'reload':
            continue
        for run in visit['runs']:
            key = (run['simd'], run['threads'])
            if key not in seen:
                seen.add(key)
                yield run


def markdown(results):
    first = next(v for v in results['visits'] if v['label'] == 'first visit')
    lines = [f"{ENGINE_LABELS[results['engine']]} {results['browserVersion']}, {os.path.basename(results['model'])}, "
             f"{results['date']} UTC; first visit (download from 127.0.0.1 + store + verify + load) "
             f"{first['loadMs'] / 1000:.1f} s. Load: {results['load']}.", '',
             '| engine | module | threads | prompt t/s | decode t/s | reload | wasm memory |', '|---|---|---|---|---|---|---|']
    for run in rows(results):
        lines.append(f"| {ENGINE_LABELS[results['engine']]} | {run['simd']} | {run['threads']} | {run['prefillTokensPerSecond']:.1f} | "
                     f"{run['decodeTokensPerSecond']:.1f} | {run['loadMs'] / 1000:.2f} s | {run['memoryBytes'] / 2**20:.0f} MiB |")
    if any('adapter' in run for run in rows(results)):
        lines += ['', '| module | threads | test | without t/s | with adapter t/s | with / without |', '|---|---|---|---|---|---|']
        for run in rows(results):
            for test, key in (('prompt', 'prefillTokensPerSecond'), ('decode', 'decodeTokensPerSecond')):
                plain, adapted = run[key], run['adapter'][key]
                lines.append(f"| {run['simd']} | {run['threads']} | {test} | {plain:.1f} | {adapted:.1f} | {adapted / plain:.3f} |")
    return '\n'.join(lines)


def run_with_display(engine):
    """WebKitGTK has no headless mode: without a display this process starts again under
    xvfb-run (scripts/wllama_in_engine.py uses this too). Selenium must not download drivers."""
    if engine.startswith('webkit') and not os.environ.get('DISPLAY'):
        if not shutil.which('xvfb-run'):
            raise SystemExit('WebKitGTK needs an X display: install xvfb (scripts/setup.sh)')
        os.execvp('xvfb-run', ['xvfb-run', '-a', '-s', '-screen 0 1280x1024x24', sys.executable, *sys.argv])
    os.environ.setdefault('SE_OFFLINE', 'true')


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--engine', default='chromium', choices=list(ENGINES))
    parser.add_argument('--model', default='models/SmolLM2-135M-Instruct.Q4_1.gguf')
    parser.add_argument('--prompt', type=int, default=128, help='prompt tokens')
    parser.add_argument('--tokens', type=int, default=128, help='decoded tokens')
    parser.add_argument('--threads', default='1,2', help='thread counts to compare (comma-separated)')
    parser.add_argument('--fixed-threads', action='store_true', help='always split the work (not adaptive)')
    parser.add_argument('--simd', default='relaxed-simd',
                        help='module builds to compare (comma-separated): relaxed-simd (used where the browser '
                             'runs it), simd128 (the baseline)')
    parser.add_argument('--adapter', help='a LoRA adapter for the model: measure without and with it, in turns')
    parser.add_argument('--adapter-scale', type=float, default=1.0, help='the adapter\'s scale')
    parser.add_argument('--rounds', type=int, default=3, help='with --adapter: measurements of each, alternated')
    parser.add_argument('--markdown', action='store_true', help='print a table for BENCHMARKS.md')
    parser.add_argument('--json', help='write every figure to this file')
    parser.add_argument('--max-busy', type=float, default=0.25, help='quiet: fewer CPU cores busy than this (3 s)')
    parser.add_argument('--max-load', type=float, default=None, help='quiet: 1-minute load average below this')
    parser.add_argument('--quiet-timeout', type=float, default=300, help='seconds to wait for quiet before each visit')
    args = parser.parse_args()

    run_with_display(args.engine)

    results = run_visits(args)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=1)
    if args.markdown:
        print(markdown(results))


if __name__ == '__main__':
    main()
