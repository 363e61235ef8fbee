#!/usr/bin/env python3
"""TinyLM next to wllama in the browser, in one session: the like-for-like figures side by side.

    python3 scripts/bench-vs-wllama.py [--engines chromium,firefox,webkit-sab] [--wllama-engines ENGINES]
                                       [--rounds 2] [--reps 3] [--model models/SmolLM2-135M-Instruct.Q4_1.gguf]
                                       [--wllama-bench ../shared/anchors/wllama-bench/bench.py]

wllama (llama.cpp compiled to WebAssembly, what a site owner would pick instead) has its own
benchmark beside this repository (../shared/anchors/wllama-bench, read-only; see its README):
a page that reports, among others, wllama's engine-only figures `internal pp128` / `internal
tg128` (its `_testBenchmark`: prompt of 128 tokens, then 128 decode steps from an empty context)
on 1 thread (single-thread build) and 2 (multi-thread build). Those are the like-for-like numbers
for TinyLM's prompt and decode speed from Tests/browser/bench.py (a 128-token prompt; 128 greedy
decode steps), at the same thread counts and in the same engine.

Per engine, wllama then TinyLM: in Chromium wllama runs through the bench's own bench.py (as it
always did), in the other engines through scripts/wllama_in_engine.py (the same page and
parameters under the browser tests' drivers). `--wllama-engines` (default: the --engines) says
where wllama runs. The whole sequence is repeated `--rounds` times, because this kind of machine
drifts 15-25% between runs, and the medians are printed as one markdown table for BENCHMARKS.md:
engine × module × threads, TinyLM's prompt and decode speed, wllama's in the same engine, the
ratio TinyLM / wllama, reload and wasm memory. Both wait for a quiet machine before each timed
call (wllama's page through its server; TinyLM's via scripts/quiet_machine.py); the caption says
how quiet it was.

Where wllama cannot run (WebKitGTK 2.50: no memory64, which both of wllama 2.4.0's builds need;
its multi-thread build without SharedArrayBuffer) the table says so, and the ratio is taken
against wllama in Chromium instead, marked with an asterisk: the comparison a site owner makes.
An engine whose wllama builds cannot run at all is checked once, not every round.
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
BUILD_THREADS = {'single-thread': 1, 'multi-thread': 2}  # wllama's builds, as its bench runs them


def log(message):
    print(message, file=sys.stderr, flush=True)


def run_wllama(args, engine, out):
    """One wllama bench run in `engine`: its result (bench.py's structure, plus `engine`,
    `browserVersion` and `unsupported`: build name → why it cannot run there)."""
    if engine == 'chromium':
        folder = os.path.join(out, 'wllama-chromium')
        command = [sys.executable, args.wllama_bench, '--model', args.model_file, '--reps', str(args.reps), '--out', folder,
                   '--no-webgpu-probe', '--no-opfs', '--builds', 'st,mt', '--quiet-timeout', str(args.quiet_timeout),
                   '--max-attempts', str(args.wllama_attempts)]
    else:
        path = os.path.join(out, f'wllama-{engine}.json')
        command = [sys.executable, os.path.join(ROOT, 'scripts', 'wllama_in_engine.py'), '--engine', engine,
                   '--model', args.model, '--reps', str(args.reps), '--builds', 'st,mt', '--json', path,
                   '--quiet-timeout', str(args.quiet_timeout), '--max-attempts', str(args.wllama_attempts),
                   '--wllama-bench', os.path.dirname(args.wllama_bench)]
    log(f'wllama in {engine}: ' + ' '.join(command[1:]))
    subprocess.run(command, check=True, cwd=ROOT, stdout=sys.stderr)  # its progress and summary: to stderr
    if engine == 'chromium':
        [path] = glob.glob(os.path.join(folder, '*.json'))
    with open(path) as f:
        result = json.load(f)
    if engine == 'chromium':
        user_agent = result.get('env', {}).get('userAgent', '')
        version = user_agent.split('Chrome/')[1].split(' ')[0] if 'Chrome/' in user_agent else user_agent
        result.update(engine='chromium', browserVersion=version, unsupported={})
    return result


def run_tinylm(args, engine, out):
    simd = 'simd128' if engine in NO_RELAXED_SIMD else 'relaxed-simd,simd128'
    path = os.path.join(out, f'tinylm-{engine}.json')
    command = [sys.executable, os.path.join(ROOT, 'Tests/browser/bench.py'), '--engine', engine, '--model', args.model,
               '--simd', simd, '--threads', '1,2', '--prompt', '128', '--tokens', '128', '--json', path,
               '--quiet-timeout', str(args.quiet_timeout)]
    log(f'TinyLM in {engine}: ' + ' '.join(command[1:]))
    subprocess.run(command, check=True, cwd=ROOT, stdout=sys.stderr)
    with open(path) as f:
        return json.load(f)


def wllama_figures(result):
    """{threads: {'pp', 'tg', 'others'} or {'missing': why}} of one wllama run: median t/s, the
    most cores other processes used during its kept measurements, or why that build did not run."""
    figures = {}
    for build in result['builds']:
        threads = build.get('numThreads') or BUILD_THREADS[build['name']]
        if 'error' in build:
            figures[BUILD_THREADS[build['name']]] = {'missing': build['error'].removeprefix('not run: ')}
            continue
        others = [r['cpu']['others_cores'] for key in ('internal_pp', 'internal_tg') for r in build[key]
                  if r.get('cpu') and 'others_cores' in r['cpu']]
        figures[threads] = {
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


def wllama_medians(runs):
    """{threads: {'pp', 'tg'} medians over the runs, or {'missing': why}} of one engine."""
    per_run = [wllama_figures(run) for run in runs]
    medians = {}
    for threads in sorted({t for figures in per_run for t in figures}):
        measured = [f[threads] for f in per_run if threads in f and 'missing' not in f[threads]]
        if measured:
            medians[threads] = {key: median_of([m[key] for m in measured]) for key in ('pp', 'tg')}
        else:
            medians[threads] = {'missing': next(f[threads]['missing'] for f in per_run if threads in f)}
    return medians


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--engines', default='chromium,firefox,webkit-sab', help='TinyLM engines (Tests/browser/bench.py --engine)')
    parser.add_argument('--wllama-engines', help='engines to run wllama in (default: the --engines); chromium through '
                                                 "its bench's bench.py, the others through scripts/wllama_in_engine.py")
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
    wllama_engines = args.wllama_engines.split(',') if args.wllama_engines else list(engines)
    unknown = [e for e in engines + wllama_engines if e not in ENGINE_LABELS]
    if unknown:
        raise SystemExit(f'unknown engine(s) {unknown}: choose from {", ".join(ENGINE_LABELS)}')
    order = engines + [e for e in wllama_engines if e not in engines]
    started = datetime.datetime.now(datetime.timezone.utc)

    wllama_runs = {e: [] for e in wllama_engines}
    tinylm_runs = {e: [] for e in engines}
    versions = {}
    for round_index in range(args.rounds):
        log(f'round {round_index + 1}/{args.rounds}')
        with tempfile.TemporaryDirectory(prefix='bench-vs-wllama-') as out:
            for engine in order:
                runs = wllama_runs.get(engine)
                # A build that cannot run in an engine (a missing feature) will not run next round either.
                if runs is not None and not (runs and all('error' in b for b in runs[0]['builds'])):
                    runs.append(run_wllama(args, engine, out))
                    versions[engine] = runs[-1]['browserVersion']
                if engine in tinylm_runs:
                    tinylm_runs[engine].append(run_tinylm(args, engine, out))
                    versions[engine] = tinylm_runs[engine][-1]['browserVersion']

    wllama = {engine: wllama_medians(runs) for engine, runs in wllama_runs.items()}
    others = [f['others'] for runs in wllama_runs.values() for run in runs for f in wllama_figures(run).values()
              if f.get('others') is not None]
    quiet = [visit['quiet'] for runs in tinylm_runs.values() for run in runs for visit in run['visits']]
    wllama_where = ', '.join(f"{ENGINE_LABELS[e]} {versions[e]}" + (" (its bench's bench.py)" if e == 'chromium' else '')
                             for e in wllama_engines)
    print(f"{os.path.basename(args.model)}, {started:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs; medians of {args.rounds} "
          f"alternating rounds (per engine wllama, then TinyLM). wllama 2.4.0's engine-only figures (internal pp128 / tg128, "
          f"{args.reps} repetitions per round) in the same engine as TinyLM's: {wllama_where}; other processes used at most "
          f"{max(others) if others else float('nan'):.2f} cores during its kept measurements. TinyLM: Tests/browser/bench.py "
          f"(128-token prompt, 128 greedy decode steps; reload = load from IndexedDB); {load_note(quiet)}. Engines: " +
          ', '.join(f"{ENGINE_LABELS[e]} {versions[e]}" for e in engines) + '.')
    print()
    print('| engine | module | threads | prompt t/s | wllama pp128 | ratio | decode t/s | wllama tg128 | ratio | reload | wasm memory |')
    print('|---|---|---|---|---|---|---|---|---|---|---|')
    notes = {}  # why wllama is missing → footnote number

    def note(why):
        return notes.setdefault(why, len(notes) + 1)

    ratio = lambda ours, theirs, mark='': f'{ours / theirs:.2f}{mark}' if ours and theirs else '–'  # noqa: E731
    number = lambda value: f'{value:.1f}' if value else '–'  # noqa: E731
    fallback = wllama.get('chromium', {})
    for engine in engines:
        per_run = [tinylm_figures(run) for run in tinylm_runs[engine]]
        keys = sorted({key for figures in per_run for key in figures}, key=lambda k: (k[0] != 'relaxed-simd', k[1]))
        for simd, threads in keys:
            figure = {name: median_of([f[(simd, threads)][name] for f in per_run if (simd, threads) in f])
                      for name in ('prompt', 'decode', 'reload', 'memory')}
            theirs = wllama.get(engine, {}).get(threads)
            if theirs and 'missing' not in theirs:
                pp, tg = number(theirs['pp']), number(theirs['tg'])
                pp_ratio, tg_ratio = ratio(figure['prompt'], theirs['pp']), ratio(figure['decode'], theirs['tg'])
            else:
                why = theirs['missing'] if theirs else ('not measured (--wllama-engines)' if engine not in wllama else
                                                        f'no {threads}-thread figure')
                pp = tg = f'does not run ({note(why)})' if theirs else f'– ({note(why)})'
                chromium = fallback.get(threads, {})
                pp_ratio, tg_ratio = ('–', '–') if 'missing' in chromium or not chromium else (
                    ratio(figure['prompt'], chromium['pp'], '*'), ratio(figure['decode'], chromium['tg'], '*'))
            module = f'{simd} (forced)' if simd == 'simd128' and engine not in NO_RELAXED_SIMD else simd
            print(f"| {ENGINE_LABELS[engine]} | {module} | {threads} | {number(figure['prompt'])} | {pp} | {pp_ratio} | "
                  f"{number(figure['decode'])} | {tg} | {tg_ratio} | {figure['reload']:.2f} s | {figure['memory']:.0f} MiB |")
    if notes:
        print()
        for why, number_ in notes.items():
            print(f'({number_}) wllama: {why}')
        print('\\* against wllama in Chromium (its figure in this table\'s Chromium row with the same thread count), '
              'for want of a figure of its own in that engine.')


if __name__ == '__main__':
    main()
