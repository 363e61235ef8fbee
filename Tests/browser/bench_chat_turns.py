#!/usr/bin/env python3
"""Time to first token per turn of one conversation in the assistant (web/app/), headless
Chromium: types the questions one after the other, as a user would, and prints for each turn
how long the first text took to appear and how many prompt tokens the KV cache already held.
With the cache reused turn after turn, the time stays flat as the conversation grows.

    python3 Tests/browser/bench_chat_turns.py [--turns 10] [--max-tokens 256] [--temperature 0.2]
                                             [--top-p 0.9] [--root DIR]

--root serves another checkout's web/ with its scripts/serve.py (e.g. an older commit, to
compare); its web/ needs the wasm modules. Sampling is fixed (top-k 40, min-p 0.05, repeat
penalty 1.1, seed 1, and the options) so that runs compare. A benchmark, not a test: it
asserts nothing.
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
return { firstMs: first, total: performance.now() - started, usage: window.lastUsage ?? null,
         meta: document.querySelectorAll('.message.assistant .meta')[before]?.textContent ?? '' };
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--turns', type=int, default=10)
    parser.add_argument('--max-tokens', type=int, default=256)
    parser.add_argument('--temperature', type=float, default=0.2)
    parser.add_argument('--top-p', type=float, default=0.9)
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
            'Object.assign(tinylmApp.settings, {temperature: arguments[1], topK: 40, topP: arguments[2], minP: 0.05, repeatPenalty: 1.1, '
            'seed: 1, maxTokens: arguments[0]});', args.max_tokens, args.temperature, args.top_p)
        threads = browser.run('return (await tinylmApp.lm.status()).threads;')
        # Every chat result's usage (prompt tokens, how many the cache held), whatever the app version.
        browser.driver.execute_script('''
            const lm = tinylmApp.lm, chat = lm.chat.bind(lm);
            lm.chat = async (...request) => {
              const result = await chat(...request);
              window.lastUsage = { ...result.usage, prefillMs: result.timings.prefillMs };
              return result;
            };''')
        load = os.getloadavg()[0]
        print(f'# {args.root}: SmolLM2 Q4_1, {threads} thread(s), temperature {args.temperature}, top-p {args.top_p}, '
              f'max {args.max_tokens} tokens per answer, load {load:.1f}')
        print('turn  first text (ms)  prefill+1st step (ms)  prompt tokens  reused  answer')
        for turn, question in enumerate(QUESTIONS[:args.turns], start=1):
            result = browser.run(ASK, question)
            usage = result['usage'] or {}
            print(f"{turn:4}  {result['firstMs']:15.0f}  {usage.get('prefillMs', float('nan')):21.0f}  {usage.get('promptTokens', '?'):>13}"
                  f"  {usage.get('reusedTokens', '?'):>6}  {result['meta']}", flush=True)
        print(f'# load at the end: {os.getloadavg()[0]:.1f}')
    finally:
        browser.quit()
        server.terminate()
        server.wait(10)


if __name__ == '__main__':
    main()
