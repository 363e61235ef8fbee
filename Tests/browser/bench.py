#!/usr/bin/env python3
"""Browser benchmark (not a test: nothing is asserted). Prints first-load time (download +
store + load), load-from-IndexedDB time, and prompt/decode speed from web/bench.html for each
thread count (the page is cross-origin isolated under scripts/serve.py, so it can use threads).

    python3 Tests/browser/bench.py [--model models/gemma-3-270m-q4_k_m.gguf] [--tokens 128] [--threads 1,2]
                                   [--fixed-threads] [--simd relaxed-simd,simd128]
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from conftest import Browser, StaticServer  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--model', default='models/SmolLM2-135M-Instruct.Q4_1.gguf')
    parser.add_argument('--tokens', type=int, default=128)
    parser.add_argument('--threads', default='1,2', help='thread counts to compare (comma-separated)')
    parser.add_argument('--fixed-threads', action='store_true', help='always split the work (not adaptive)')
    parser.add_argument('--simd', default='relaxed-simd',
                        help='module builds to compare (comma-separated): relaxed-simd (used where the browser '
                             'runs it), simd128 (the baseline)')
    args = parser.parse_args()
    fixed = '&fixed=1' if args.fixed_threads else ''
    server = StaticServer().start()
    browser = Browser()
    try:
        visits = [('first visit', '&fresh=1', args.simd.split(',')[0])]
        visits += [('reload', '', simd) for simd in args.simd.split(',')]
        for label, fresh, simd in visits:
            browser.get(f'{server.url}/bench.html?auto=1&model={args.model}&tokens={args.tokens}&threads={args.threads}'
                        f'{fresh}{fixed}&simd={simd}')
            result = browser.wait_for('window.benchResult', timeout=900)
            if 'error' in result:
                raise SystemExit(f"bench failed: {result['error']}")
            print(f"{label}: load {result['loadMs']:.0f} ms (downloaded: {result['downloaded']}; phases: "
                  f"{json.dumps({k: round(v) for k, v in result['phasesMs'].items()})}); "
                  f"cross-origin isolated: {result['crossOriginIsolated']}, {result['cores']} cores")
            for run in result['runs']:
                note = f" ({run['threadsError']})" if run['threadsError'] else ''
                if run.get('threadSections'):
                    note += f" (sections parallel/serial: {run['threadSections']['parallel']}/{run['threadSections']['serial']})"
                print(f"  {run['threads']} thread(s), {run['simd']}{note}: prompt {run['prefillTokensPerSecond']:.1f} tokens/s; "
                      f"decode {run['decodeTokensPerSecond']:.1f} tokens/s")
    finally:
        browser.quit()
        server.stop()


if __name__ == '__main__':
    main()
