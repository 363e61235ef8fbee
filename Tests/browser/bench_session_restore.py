#!/usr/bin/env python3
"""Time to first token after a page reload, with and without the conversation's saved KV cache
(lm.saveSession / lm.restoreSession), headless Chromium, SmolLM2-135M Q4_1.

For each history length (about 1000 and 1900 tokens): a conversation of that length is answered
once and saved; then, alternately, the page is reloaded and the next question is asked either
after restoreSession (time = restore + first token) or without it (the whole history is
evaluated). Prints the times, the prompt tokens evaluated and the snapshot's size.

    python3 Tests/browser/bench_session_restore.py [--histories 1000,1900] [--rounds 2]

A benchmark, not a test: it asserts nothing.
"""

import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from conftest import LOAD_MODEL, ROOT, Browser, free_port  # noqa: E402

PARAGRAPH = ('The old harbour town grew around its fish market, its narrow lanes climbing the hill to a church '
             'whose bell still rings at noon. Traders from the south brought salt and cloth, and the town sent back '
             'dried fish, timber and stories of the northern sea. ')

# Builds a conversation of about `target` prompt tokens, answers its last question, saves it.
BUILD = """
const [target, paragraph] = args;
const { SessionSnapshotStore } = await import('/session-snapshots.js');
await new SessionSnapshotStore().clear();
const messages = [{ role: 'system', content: 'You are a helpful assistant. Answer briefly.' }];
let turn = 0;
for (;;) {
  const next = [...messages, { role: 'user', content: `Tell me more, part ${turn + 1}.` }, { role: 'assistant', content: paragraph.repeat(3) }];
  if (await window.lm.countTokens([...next, { role: 'user', content: 'And then?' }]) > target) break;
  messages.push(...next.slice(messages.length));
  turn++;
}
messages.push({ role: 'user', content: 'And then?' });
const answer = await window.lm.chat(messages, { maxTokens: 16, seed: 1 });
messages.push({ role: 'assistant', content: answer.text });
const save = await window.lm.saveSession();
return { messages, save };
"""

# Asks the next question after a reload; `restore`: restoreSession first. Time from the start
# (before the restore) to the first token.
ASK = """
const [messages, restore] = args;
const started = performance.now();
const restored = restore ? await window.lm.restoreSession(messages) : null;
const restoredMs = performance.now() - started;
let first = null;
const answer = await window.lm.chat([...messages, { role: 'user', content: 'Summarize that in one line.' }],
  { maxTokens: 4, seed: 2, onToken: () => { first ??= performance.now() - started; } });
return { firstMs: first, restoredMs, restored, usage: answer.usage, prefillMs: answer.timings.prefillMs, text: answer.text };
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--histories', default='1000,1900')
    parser.add_argument('--rounds', type=int, default=2)
    args = parser.parse_args()

    port = free_port()
    server = subprocess.Popen([sys.executable, os.path.join(ROOT, 'scripts/serve.py'), '--port', str(port),
                               '--no-build', '--no-fetch', '--quiet'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = server.stdout.readline()
    if 'serving' not in line:
        sys.exit(f'serve.py did not start: {line}{server.stdout.read()}')
    browser = Browser()
    url = f'http://127.0.0.1:{port}/'

    def reload():
        browser.get(url)
        return browser.run(LOAD_MODEL)

    try:
        loaded = reload()
        threads = browser.run('return (await window.lm.status()).threads;')
        print(f"# SmolLM2-135M Q4_1, context {loaded['contextLength']}, {threads} thread(s), load {os.getloadavg()[0]:.1f}")
        print('history  snapshot   save ms  mode      restore ms  first token ms  evaluated  reused  same text')
        for target in [int(x) for x in args.histories.split(',')]:
            reload()
            built = browser.run(BUILD, target, PARAGRAPH)
            save = built['save']
            texts = {}
            for _ in range(args.rounds):
                for mode in ('snapshot', 'cold'):
                    reload()
                    result = browser.run(ASK, built['messages'], mode == 'snapshot')
                    usage = result['usage']
                    texts.setdefault(mode, result['text'])
                    same = result['text'] == texts.get('snapshot', result['text'])
                    print(f"{save['tokens']:7}  {save['bytes'] / 1e6:6.1f} MB  {save['ms']:7.0f}  {mode:8}  "
                          f"{result['restoredMs'] if mode == 'snapshot' else 0:10.0f}  {result['firstMs']:14.0f}  "
                          f"{usage['promptTokens'] - usage['reusedTokens']:9}  {usage['reusedTokens']:6}  {same}", flush=True)
        print(f'# load at the end: {os.getloadavg()[0]:.1f}')
    finally:
        browser.quit()
        server.terminate()
        server.wait(10)


if __name__ == '__main__':
    main()
