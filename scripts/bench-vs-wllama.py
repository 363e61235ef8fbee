#!/usr/bin/env python3
"""TinyLM next to wllama in the browser, in one session: the like-for-like figures side by side.

    python3 scripts/bench-vs-wllama.py [--engines chromium,firefox,webkit-sab] [--rounds 2] [--reps 3]
                                       [--model models/SmolLM2-135M-Instruct.Q4_1.gguf]
                                       [--wllama-bench ../shared/anchors/wllama-bench/bench.py]

wllama (llama.cpp compiled to WebAssembly, what a site owner would pick instead) has its own
benchmark beside this repository (../shared/anchors/wllama-bench, read-only; see its README):
it runs wllama in headless Chromium and reports, among others, wllama's engine-only figures
`internal pp128` / `internal tg128` (its `_testBenchmark`: prompt of 128 tokens, then 128
decode steps from an empty context) on 1 thread (single-thread build) and 2 (multi-thread
build). Those are the like-for-like numbers for TinyLM's prompt and decode speed from
Tests/browser/bench.py (a 128-token prompt; 128 greedy decode steps), at the same thread
counts. This script runs the two alternately — wllama, TinyLM in each engine, wllama, TinyLM
... — `--rounds` times, because this kind of machine drifts 15-25% between runs, and prints the
medians as a markdown table for BENCHMARKS.md with the ratio TinyLM / wllama. Both wait for a
quiet machine before each timed call (wllama's bench by itself; TinyLM's via
scripts/quiet_machine.py); the caption says how quiet it was.

wllama runs in Chromium only (its bench drives Chromium); the rows of the other engines compare
against those same Chromium figures — the comparison a site owner makes.
"""
import argparse
import datetime
import glob
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
sys.path.insert(0, os.path.join(ROOT, 'scripts'))
from quiet_machine import load_note  # noqa: E402

ENGINE_LABELS = {'chromium': 'Chromium', 'firefox': 'Firefox ESR', 'webkit': 'WebKitGTK',
                 'webkit-sab': 'WebKitGTK (SharedArrayBuffer on)'}
NO_RELAXED_SIMD = ('webkit', 'webkit-sab')


def log(message):
    print(message, file=sys.stderr, flush=True)


def run_wllama(args, out):
    command = [sys.executable, args.wllama_bench, '--model', args.model_file, '--reps', str(args.reps), '--out', out,
               '--no-webgpu-probe', '--no-opfs', '--builds', 'st,mt', '--quiet-timeout', str(args.quiet_timeout),
               '--max-attempts', str(args.wllama_attempts)]
    log('wllama: ' + ' '.join(command))
    subprocess.run(command, check=True, stdout=sys.stderr)  # its progress and table: to stderr
    [path] = glob.glob(os.path.join(out, '*.json'))
    with open(path) as f:
        return json.load(f)


def run_tinylm(args, engine, out):
    simd = 'simd128' if engine in NO_RELAXED_SIMD else 'relaxed-simd,simd128'
    path = os.path.join(out, f'tinylm-{engine}.json')
    command = [sys.executable, os.path.join(ROOT, 'Tests/browser/bench.py'), '--engine', engine, '--model', args.model,
               '--simd', simd, '--threads', '1,2', '--prompt', '128', '--tokens', '128', '--json', path,
               '--quiet-timeout', str(args.quiet_timeout)]
    log('TinyLM: ' + ' '.join(command[1:]))
    subprocess.run(command, check=True, cwd=ROOT, stdout=sys.stderr)
    with open(path) as f:
        return json.load(f)


def wllama_figures(result):
    """{threads: {'pp': median t/s, 'tg': median t/s, 'others': max cores others used}} of one wllama run."""
    figures = {}
    for build in result['builds']:
        if 'error' in build:
            raise SystemExit(f"wllama's {build['name']} build failed: {build['error']}")
        others = [r['cpu']['others_cores'] for key in ('internal_pp', 'internal_tg') for r in build[key]
                  if r.get('cpu') and 'others_cores' in r['cpu']]
        figures[build['numThreads']] = {
            'pp': statistics.median(r['tps'] for r in build['internal_pp']),
            'tg': statistics.median(r['tps'] for r in build['internal_tg']),
            'others': max(others) if others else None,
        }
    return figures


def tinylm_figures(result):
    """{(module, threads): {prompt, decode, reload, memory}} of one TinyLM run (reload visits)."""
    figures = {}
    for visit in result['visits']:
        if visit['label'] != 'reload':
            continue
        for run in visit['runs']:
            figures.setdefault((run['simd'], run['threads']), {
                'prompt': run['prefillTokensPerSecond'], 'decode': run['decodeTokensPerSecond'],
                'reload': run['loadMs'] / 1000, 'memory': run['memoryBytes'] / 2**20})
    return figures


def median_of(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--engines', default='chromium,firefox,webkit-sab', help='TinyLM engines (Tests/browser/bench.py --engine)')
    parser.add_argument('--rounds', type=int, default=2)
    parser.add_argument('--reps', type=int, default=3, help="wllama's repetitions per round")
    parser.add_argument('--model', default='models/SmolLM2-135M-Instruct.Q4_1.gguf')
    parser.add_argument('--wllama-bench', default=os.path.join(ROOT, '..', 'shared', 'anchors', 'wllama-bench', 'bench.py'))
    parser.add_argument('--quiet-timeout', type=float, default=300, help='seconds to wait for quiet before each timed call')
    parser.add_argument('--wllama-attempts', type=int, default=3,
                        help="wllama's bench redoes a repetition that other processes disturbed, up to this many times")
    args = parser.parse_args()
    # TinyLM's page fetches the model from the served tree (models/ is linked into web/); wllama's
    # bench serves the file at the path it is given.
    args.model_file = os.path.abspath(os.path.join(ROOT, args.model))
    if os.path.relpath(args.model_file, ROOT).split(os.sep)[0] != 'models':
        raise SystemExit('--model must be a file under models/')
    args.model = os.path.relpath(args.model_file, ROOT)
    if not os.path.exists(args.wllama_bench):
        raise SystemExit(f"wllama's bench is not at {args.wllama_bench} (--wllama-bench PATH)")
    engines = args.engines.split(',')
    started = datetime.datetime.now(datetime.timezone.utc)

    wllama_runs, tinylm_runs, versions = [], {e: [] for e in engines}, {}
    for round_index in range(args.rounds):
        log(f'round {round_index + 1}/{args.rounds}')
        with tempfile.TemporaryDirectory(prefix='bench-vs-wllama-') as out:
            wllama = run_wllama(args, out)
            wllama_runs.append(wllama)
            for engine in engines:
                tinylm = run_tinylm(args, engine, out)
                tinylm_runs[engine].append(tinylm)
                versions[engine] = tinylm['browserVersion']

    wllama = {threads: {key: median_of([wllama_figures(run)[threads][key] for run in wllama_runs if threads in wllama_figures(run)])
                        for key in ('pp', 'tg')} for threads in (1, 2)}
    others = [f['others'] for run in wllama_runs for f in wllama_figures(run).values() if f['others'] is not None]
    quiet = [visit['quiet'] for runs in tinylm_runs.values() for run in runs for visit in run['visits']]
    chromium_version = wllama_runs[0].get('env', {}).get('userAgent', '')

    print(f"{os.path.basename(args.model)}, {started:%Y-%m-%d %H:%M} UTC, "
          f"{os.cpu_count()} CPUs; medians of {args.rounds} alternating rounds (wllama, then TinyLM in each engine). "
          f"wllama 2.4.0 in headless Chromium ({chromium_version}), engine-only figures (internal pp128 / tg128, "
          f"{args.reps} repetitions per round); other processes used at most {max(others) if others else float('nan'):.2f} "
          f"cores during its kept measurements. TinyLM: Tests/browser/bench.py (128-token prompt, 128 greedy decode "
          f"steps; reload = load from IndexedDB); {load_note(quiet)}. Engines: " +
          ', '.join(f"{ENGINE_LABELS[e]} {versions[e]}" for e in engines) + '.')
    print()
    print('| engine | module | threads | prompt t/s | wllama pp128 | ratio | decode t/s | wllama tg128 | ratio | reload | wasm memory |')
    print('|---|---|---|---|---|---|---|---|---|---|---|')
    for engine in engines:
        per_run = [tinylm_figures(run) for run in tinylm_runs[engine]]
        keys = sorted({key for figures in per_run for key in figures}, key=lambda k: (k[0] != 'relaxed-simd', k[1]))
        for simd, threads in keys:
            figure = {name: median_of([f[(simd, threads)][name] for f in per_run if (simd, threads) in f])
                      for name in ('prompt', 'decode', 'reload', 'memory')}
            pp, tg = wllama.get(threads, {}).get('pp'), wllama.get(threads, {}).get('tg')
            ratio = lambda ours, theirs: f'{ours / theirs:.2f}' if ours and theirs else '–'  # noqa: E731
            number = lambda value: f'{value:.1f}' if value else '–'  # noqa: E731
            print(f"| {ENGINE_LABELS[engine]} | {simd} | {threads} | {number(figure['prompt'])} | {number(pp)} | "
                  f"{ratio(figure['prompt'], pp)} | {number(figure['decode'])} | {number(tg)} | {ratio(figure['decode'], tg)} | "
                  f"{figure['reload']:.2f} s | {figure['memory']:.0f} MiB |")


if __name__ == '__main__':
    main()
