#!/usr/bin/env python3
"""Time to first token per turn of one conversation in the assistant (web/app/), headless
Chromium: types the questions one after the other, as a user would, and prints for each turn
how long the first text took to appear and how many prompt tokens the KV cache already held.
With the cache reused turn after turn, the time stays flat as the conversation grows.

    python3 Tests/browser/bench_chat_turns.py [--turns 10] [--max-tokens 256] [--root DIR]

--root serves another checkout's web/ with its scripts/serve.py (e.g. an older commit, to
compare); its web/ needs the wasm modules. Sampling is fixed (temperature 0.2, top-p 0.9,
seed 1) so that runs compare. A benchmark, not a test: it asserts nothing.
"""

import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from conftest import ROOT, Browser, free_port  # noqa: E402

QUESTIONS = [
    'What is the capital of France?', 'What is it famous for?', 'Tell me about its history.',
    'Which river flows through it?', 'Name three museums there.', 'What food should I try?',
    'How do I get there from London?', 'What is the weather like in spring?',
    'Suggest a one-day walking route.', 'Summarize our conversation in two sentences.',
    'Which of these would you skip?', 'Thank you!',
]

# Runs in the page: sends `question` through the app's own form and resolves when the answer is
# complete, with the time to the first visible text (the app renders once per animation frame).
ASK = """
const [question] = args;
const before = document.querySelectorAll('.message.assistant').length;
const input = document.getElementById('input');
input.value = question;
const started = performance.now();
document.getElementById('composer').requestSubmit();
let first = null;
for (;;) {
  await new Promise((resolve) => requestAnimationFrame(resolve));
  const items = document.querySelectorAll('.message.assistant');
  const item = items.length > before ? items[items.length - 1] : null;
  if (first === null && item && item.textContent.trim()) first = performance.now() - started;
  if (item && document.body.dataset.state === 'ready') break;
}
const last = window.tinylmApp.lastAnswer ?? null;
return { firstMs: first, total: performance.now() - started, usage: last && last.usage,
         meta: document.querySelectorAll('.message.assistant .meta')[before]?.textContent ?? '' };
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--turns', type=int, default=10)
    parser.add_argument('--max-tokens', type=int, default=256)
    parser.add_argument('--root', default=ROOT, help='the checkout whose web/ to serve')
    args = parser.parse_args()

    port = free_port()
    server = subprocess.Popen([sys.executable, os.path.join(args.root, 'scripts/serve.py'), '--port', str(port),
                               '--no-build', '--no-fetch', '--quiet'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = server.stdout.readline()
    if 'serving' not in line:
        sys.exit(f'serve.py did not start: {line}{server.stdout.read()}')
    browser = Browser()
    try:
        browser.get(f'http://127.0.0.1:{port}/app/')
        browser.wait_for("['absent', 'ready'].includes(document.body.dataset.state)", timeout=120)
        if browser.driver.execute_script('return document.body.dataset.state') == 'absent':
            browser.driver.find_element('id', 'download').click()
        browser.wait_for("document.body.dataset.state === 'ready'", timeout=300)
        browser.driver.execute_script(
            'Object.assign(tinylmApp.settings, {temperature: 0.2, topK: 40, topP: 0.9, minP: 0.05, repeatPenalty: 1.1, seed: 1, maxTokens: arguments[0]});',
            args.max_tokens)
        threads = browser.run('return (await tinylmApp.lm.status()).threads;')
        load = os.getloadavg()[0]
        print(f'# {args.root}: SmolLM2 Q4_1, {threads} thread(s), max {args.max_tokens} tokens per answer, load {load:.1f}')
        print('turn  first text (ms)  prompt tokens  reused  answer')
        for turn, question in enumerate(QUESTIONS[:args.turns], start=1):
            result = browser.run(ASK, question)
            usage = result['usage'] or {}
            print(f"{turn:4}  {result['firstMs']:15.0f}  {usage.get('promptTokens', '?'):>13}  {usage.get('reusedTokens', '?'):>6}  {result['meta']}",
                  flush=True)
        print(f'# load at the end: {os.getloadavg()[0]:.1f}')
    finally:
        browser.quit()
        server.terminate()
        server.wait(10)


if __name__ == '__main__':
    main()
