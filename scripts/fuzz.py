#!/usr/bin/env python3
"""Fuzzes everything that reads untrusted bytes: GGUF files (parser, model loader, tokenizer,
chat template from the metadata, session and sampling), the JSON options and chat requests a
page passes with them (grammars, JSON schemas, tools), file manifests, LoRA adapters (loaded
against their base model, then a few tokens generated with them) and knowledge files (opened,
then searched once) — natively and in the wasm module under Node.

  scripts/fuzz.py --cases 3000 --seed 1                 native + wasm + manifests
  scripts/fuzz.py --cases 100000 --seed 7 --target native
  scripts/fuzz.py --seed 7 --case 4242 --save /tmp/x    rebuild one case (GGUF, options, chat) to look at
  scripts/fuzz.py --seed 7 --rerun report.json          only the cases that failed in a --report
  scripts/fuzz.py --cases 20000 --kinds adapter,knowledge   only adapters and knowledge files

Targets: native (Sources/TinyLMFuzz, in one process), wasm (web/tinylm.wasm through
web/engine.js in Node), both (every model case through both; their outcomes must agree),
manifest (web/manifest.js and FileManifest must agree; a sample also through `tinylm manifest
verify`), all (both + manifest). Case i of seed s is always the same case (given the same seed
files: --real-models says whether the real models are among them). A crash, trap,
hang (--timeout), memory jump (--memory-limit) or disagreement is reported with the command that
rebuilds it; the exit status is 1 if there was any. Native and wasm must agree on everything
but two known differences, compared only up to where they start: JSON integers beyond 32 bits
in a chat request (Doubles in wasm32) and generation from NaN or infinite weights (x86 and wasm
convert NaN to int8 differently).

Kinds (--kinds, default all): model (a GGUF model file with options and a chat request),
manifest, adapter, knowledge. With all, --adapter-share and --knowledge-share of the cases
(10% each) are adapters and knowledge files, drawn before the model/manifest split; every
other case is exactly the case it was before these kinds existed (the same number of the same
seed gives the same model or manifest case), so old seeds' model and manifest cases are
unchanged, but some of their numbers now hold adapter or knowledge cases instead;
--kinds model,manifest runs the old sequence exactly. Adapter cases mutate small adapters made
for the small seed models (scripts/fuzz/adapter_seeds.py) and, at a low share, the reference
SmolLM2 adapter (when the real SmolLM2 is a seed), like model files; the outcome is the error
kind, or the adapter's info and the first tokens generated with it (mostly greedy).
Knowledge cases mutate files written by `tinylm index` with all-MiniLM-L6-v2 (models/;
without it the kind is skipped) in each vector form, mostly with the checksum recomputed; the
outcome is the error kind, or the info, one search with a fixed query vector, the file
written back and the file merged into itself.

Needs: swift build -c release (tinylm-fuzz, tinylm), ./build-wasm.sh single, the gguf Python
package (scripts/setup.sh). The real models in models/ join the seeds when present;
models/all-MiniLM-L6-v2.gguf is the embedder of the knowledge cases.
"""

import argparse
import hashlib
import json
import os
import random
import resource
import select
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, 'fuzz'))

import adapter_seeds  # noqa: E402
import gguf_layout  # noqa: E402
import gguf_mutator  # noqa: E402
import json_mutator  # noqa: E402
import knowledge_mutator  # noqa: E402
import knowledge_seeds  # noqa: E402
import manifest_mutator  # noqa: E402
import seeds as seed_files  # noqa: E402

NATIVE_WORKER = os.path.join(ROOT, '.build/release/tinylm-fuzz')
NATIVE_CLI = os.path.join(ROOT, '.build/release/tinylm')
WASM_WORKER = os.path.join(HERE, 'fuzz/wasm-worker.mjs')
REAL_MODELS = [('smollm2', 'models/SmolLM2-135M-Instruct.Q4_1.gguf', 5.0), ('gemma3', 'models/gemma-3-270m-q4_k_m.gguf', 2.0)]
SMALL_WEIGHTS = {'llama-bpe': 30.0, 'qwen2-bpe': 20.0, 'gemma3-spm': 25.0, 'gemma3-spm-low-bits': 12.0, 'values': 6.0}
REAL_ADAPTER = ('smollm2-lora', os.path.join(os.path.dirname(ROOT), 'shared/reference/smollm2-lora/smollm2-test-lora.gguf'), 'smollm2', 0.15)
EMBEDDER = os.path.join(ROOT, 'models/all-MiniLM-L6-v2.gguf')
ADAPTER_KEYS = {'general.type', 'adapter.type', 'adapter.lora.alpha', 'general.architecture'}
KINDS = ['model', 'manifest', 'adapter', 'knowledge']
TEMPLATE_DIR = os.path.join(os.path.dirname(ROOT), 'shared/reference/chat-templates/templates')


class WorkerDied(Exception):
    pass


class WorkerTimeout(Exception):
    pass


class Worker:
    """A worker process speaking the length-prefixed protocol (Sources/TinyLMFuzz/main.swift)."""

    def __init__(self, name, argv, seeds, memory_limit=None):
        # seeds: every file the worker holds (model seeds, then adapter seeds and the embedder).
        self.name, self.argv, self.seeds, self.memory_limit = name, argv, seeds, memory_limit
        self.process = None
        self.stderr = None
        self.baseline_memory = 0

    def start(self):
        self.stderr = tempfile.TemporaryFile()
        limit = self.memory_limit

        def limit_address_space():
            if limit:
                resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        self.process = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
                                        preexec_fn=limit_address_space, cwd=ROOT)
        for index, seed in enumerate(self.seeds):
            reply = self.request(b'\x01' + struct.pack('<I', index) + seed['path'].encode(), timeout=600)
            if reply.get('status') != 'ready':
                raise RuntimeError(f'{self.name} worker cannot load seed {seed["path"]}: {reply}')
            self.baseline_memory = reply.get('memory', 0)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None

    def stderr_tail(self):
        if not self.stderr:
            return ''
        self.stderr.seek(0)
        return self.stderr.read()[-3000:].decode('utf-8', 'replace')

    def send(self, payload):
        self.process.stdin.write(struct.pack('<I', len(payload)) + payload)
        self.process.stdin.flush()

    def _read(self, count, deadline):
        data = b''
        fd = self.process.stdout.fileno()
        while len(data) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WorkerTimeout()
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                raise WorkerTimeout()
            chunk = os.read(fd, count - len(data))
            if not chunk:
                self.process.wait()
                raise WorkerDied(f'exit status {self.process.returncode}')
            data += chunk
        return data

    def receive(self, timeout):
        deadline = time.monotonic() + timeout
        length = struct.unpack('<I', self._read(4, deadline))[0]
        return json.loads(self._read(length, deadline))

    def request(self, payload, timeout):
        try:
            self.send(payload)
        except BrokenPipeError:
            self.process.wait()
            raise WorkerDied(f'exit status {self.process.returncode}')
        return self.receive(timeout)


def model_payload(seed_index, case):
    edits = b''.join(struct.pack('<QQI', o, d, len(i)) + i for o, d, i in case['edits'])
    return (b'\x02' + struct.pack('<II', seed_index, case['flags']) + struct.pack('<I', len(case['options'])) + case['options']
            + struct.pack('<I', len(case['chat'])) + case['chat'] + struct.pack('<I', len(case['edits'])) + edits)


def apply_edits(data, edits):
    out, cursor = bytearray(), 0
    for offset, delete, insert in sorted(edits, key=lambda e: (e[0], e[1])):
        out += data[cursor:offset] + insert
        cursor = offset + delete
    return bytes(out + data[cursor:])


class Fuzzer:
    def __init__(self, args):
        self.args = args
        self.seed_dir = os.path.join(ROOT, '.build/fuzz-seeds')
        self.seeds = []
        for name, path in seed_files.ensure(self.seed_dir).items():
            self.seeds.append({'name': name, 'path': path, 'weight': SMALL_WEIGHTS[name], 'real': False})
        if args.real_models != 'no':
            for name, relative, weight in REAL_MODELS:
                path = os.path.join(ROOT, relative)
                if os.path.exists(path):
                    self.seeds.append({'name': name, 'path': path, 'weight': weight * args.real_share, 'real': True})
                elif args.real_models == 'yes':
                    sys.exit(f'missing {path}: run scripts/fetch-models.sh all (or --real-models no)')
        self.templates = []
        if os.path.isdir(TEMPLATE_DIR):
            for name in sorted(os.listdir(TEMPLATE_DIR)):
                with open(os.path.join(TEMPLATE_DIR, name), encoding='utf-8') as f:
                    self.templates.append(f.read())
        self.mutators = {}
        self.totals = sum(s['weight'] for s in self.seeds)
        self.failures = []
        self.counts = {}
        self.differences = 0
        self.manifest_bases = None
        self.adapters = []  # {name, path, base (index into self.seeds), weight, index (worker seed index)}
        self.embedder_index = None
        self.knowledge = None
        self.query = b''

    @property
    def worker_seeds(self):
        extra = [{'path': a['path']} for a in self.adapters]
        if self.embedder_index is not None:
            extra.append({'path': EMBEDDER})
        return self.seeds + extra

    def file_kind_setup(self, kinds):
        """Adapter seeds (for the model seeds present) and knowledge seeds (with the embedder)."""
        names = {seed['name']: index for index, seed in enumerate(self.seeds)}
        if 'adapter' in kinds:
            for name, (path, base) in adapter_seeds.ensure(self.seed_dir).items():
                self.adapters.append({'name': name, 'path': path, 'base': names[base], 'weight': 1.0})
            name, path, base, weight = REAL_ADAPTER
            if base in names and os.path.exists(path):
                self.adapters.append({'name': name, 'path': path, 'base': names[base], 'weight': weight})
            for number, adapter in enumerate(self.adapters):
                adapter['index'] = len(self.seeds) + number
                with open(adapter['path'], 'rb') as f:
                    data = f.read()
                mutator = gguf_mutator.Mutator(data, gguf_layout.parse(data), [])
                # The keys an adapter is checked by are the ones worth aiming at.
                mutator.important |= ADAPTER_KEYS
                mutator.important_entries = [e for e in mutator.layout.metadata if e.key in mutator.important]
                adapter['mutator'] = mutator
            self.adapter_total = sum(a['weight'] for a in self.adapters)
        if 'knowledge' in kinds:
            if not os.path.exists(EMBEDDER):
                print(f'knowledge cases skipped: no {EMBEDDER} (scripts/fetch-models.sh)', flush=True)
                return
            if not os.path.exists(NATIVE_CLI):
                sys.exit(f'missing {NATIVE_CLI} (it writes the knowledge seeds): run swift build -c release')
            files = []
            for path in knowledge_seeds.ensure(self.seed_dir, NATIVE_CLI, EMBEDDER):
                with open(path, 'rb') as f:
                    files.append(f.read())
            self.knowledge = knowledge_mutator.KnowledgeMutator(files)
            self.embedder_index = len(self.seeds) + len(self.adapters)
            dimensions = self.knowledge.files[0][1].dimensions
            rng = random.Random('knowledge query')
            values = [rng.gauss(0, 1) for _ in range(dimensions)]
            norm = sum(v * v for v in values) ** 0.5
            self.query = struct.pack(f'<{dimensions}f', *(v / norm for v in values))

    # --- cases -------------------------------------------------------------------------------

    def mutator(self, index):
        if index not in self.mutators:
            with open(self.seeds[index]['path'], 'rb') as f:
                data = f.read()
            self.mutators[index] = (data, gguf_mutator.Mutator(data, gguf_layout.parse(data), self.templates))
        return self.mutators[index]

    def model_case(self, number):
        rng = random.Random(f'{self.args.seed}:{number}')
        pick = rng.random() * self.totals
        for index, seed in enumerate(self.seeds):
            pick -= seed['weight']
            if pick < 0:
                break
        data, mutator = self.mutator(index)
        edits, note = mutator.case(rng)
        real = self.seeds[index]['real']
        generate = rng.random() < (0.1 if real else 0.85)
        return {
            'number': number, 'seed_index': index, 'seed': self.seeds[index]['name'], 'edits': edits, 'note': note,
            'flags': 1 if generate else 0, 'real': real,
            'options': json_mutator.options(rng, constraints=not real),
            'chat': json_mutator.chat_request(rng, self.templates),
        }

    def save_case(self, case, directory):
        os.makedirs(directory, exist_ok=True)
        data, _ = self.mutator(case['seed_index'])
        stem = os.path.join(directory, f'case-{self.args.seed}-{case["number"]}')
        with open(stem + '.gguf', 'wb') as f:
            f.write(apply_edits(data, case['edits']))
        with open(stem + '.options.json', 'wb') as f:
            f.write(case['options'])
        with open(stem + '.chat.json', 'wb') as f:
            f.write(case['chat'])
        return stem

    def reproduce(self, case):
        # Which seed a case starts from depends on the seed set: name it.
        real = 'yes' if any(s['real'] for s in self.seeds) else 'no'
        share = f' --real-share {self.args.real_share:g}' if self.args.real_share != 1.0 and real == 'yes' else ''
        if case.get('kind') in ('adapter', 'knowledge'):
            return (f'scripts/fuzz.py --seed {self.args.seed} --first {case["number"]} --cases 1 --kinds {case["kind"]} '
                    f'--real-models {real}{share}')
        if case.get('edits') is None:
            return f'scripts/fuzz.py --seed {self.args.seed} --first {case["number"]} --cases 1 --target manifest --real-models {real}{share}'
        return f'scripts/fuzz.py --seed {self.args.seed} --case {case["number"]} --real-models {real}{share} --save DIR'

    # --- running -----------------------------------------------------------------------------

    def fail(self, kind, target, case, detail):
        entry = {'kind': kind, 'target': target, 'case': case['number'], 'seed_file': case.get('seed', 'manifest'),
                 'what': case.get('note', ''), 'detail': detail, 'reproduce': self.reproduce(case)}
        if case.get('kind') in ('adapter', 'knowledge') and self.args.save_failures:
            entry['saved'] = self.save_file_case(case, self.args.save_failures)
        elif case.get('edits') is not None and self.args.save_failures:
            entry['saved'] = self.save_case(case, self.args.save_failures)
        self.failures.append(entry)
        print(f'\n!! {kind} ({target}) at case {case["number"]} [{entry["seed_file"]}: {entry["what"][:200]}]\n   {detail[:1500]}\n'
              f'   rebuild: {entry["reproduce"]}', flush=True)

    def count(self, key):
        self.counts[key] = self.counts.get(key, 0) + 1

    def run_on(self, worker, case, payload, timeout):
        """Sends one case; returns the reply, or None after reporting (and restarting the worker)."""
        try:
            reply = worker.request(payload, timeout)
        except WorkerDied as died:
            self.fail('crash', worker.name, case, f'{died}\n{worker.stderr_tail()}')
            worker.stop()
            worker.start()
            return None
        except WorkerTimeout:
            self.fail('hang', worker.name, case, f'no answer within {timeout} s')
            worker.stop()
            worker.start()
            return None
        status = reply.get('status')
        if status in ('trap', 'crash', 'failed'):
            self.fail(status, worker.name, case, f'{reply.get("message")}\n{reply.get("stack", "")}')
            return None
        return reply

    def check_memory(self, worker, case, reply):
        if worker.name == 'native':
            grown = reply.get('memory', 0) - worker.baseline_memory
            if grown > self.args.memory_limit:
                self.fail('memory', worker.name, case, f'peak resident memory grew by {grown >> 20} MiB')
                worker.baseline_memory = reply['memory']
        elif reply.get('grew', 0) > self.args.memory_limit:
            self.fail('memory', worker.name, case, f'wasm memory grew by {reply["grew"] >> 20} MiB in one case')

    def run_model_case(self, workers, case):
        payload = model_payload(case['seed_index'], case)
        timeout = self.args.timeout * (6 if case['real'] else 1)
        for worker in workers:
            worker.send(payload)
        replies = []
        for worker in workers:
            try:
                replies.append(worker.receive(timeout))
            except (WorkerDied, WorkerTimeout) as problem:
                died = isinstance(problem, WorkerDied)
                self.fail('crash' if died else 'hang', worker.name, case,
                          f'{problem}\n{worker.stderr_tail()}' if died else f'no answer within {timeout} s')
                worker.stop()
                worker.start()
                replies.append(None)
        outcomes = []
        for worker, reply in zip(workers, replies):
            if reply is None:
                outcomes.append(None)
                continue
            status = reply.get('status')
            if status in ('trap', 'crash', 'failed'):
                self.fail(status, worker.name, case, f'{reply.get("message")}\n{reply.get("stack", "")}')
                outcomes.append(None)
                continue
            self.check_memory(worker, case, reply)
            self.count(f'{worker.name} {status}' + (f' kind {reply.get("kind")}' if status == 'error' else ''))
            outcomes.append(reply)
        if len(workers) == 2 and all(outcomes):
            a, b = outcomes
            # JSON integers beyond 32 bits are Doubles in wasm32 (DESIGN.md: Int is 32-bit there),
            # so a chat request holding one renders them differently ("1e10" vs "1e10.0"): a known
            # difference, for which only the load itself is compared.
            same = (a['status'], a.get('kind')) == (b['status'], b.get('kind'))
            if same and has_wide_integers(case['chat']):
                self.count('compared up to loading (wide integers in the chat request)')
            elif same and not (a.get('finite', True) and b.get('finite', True)):
                # NaN and infinite activations quantize differently on x86 and in wasm
                # (cvttps2dq gives INT_MIN, trunc_sat 0): generation is compared only when finite.
                same = a['loadSummary'] == b['loadSummary']
                self.count('compared up to generation (non-finite logits)')
            elif same:
                same = a['summary'] == b['summary']
                if not same and a['loadSummary'] == b['loadSummary']:
                    # Only generation differs. Bit-identity holds for finite arithmetic; weights
                    # or norms that are NaN or infinite can come out finite but different (x86's
                    # max and int8 conversion treat NaN unlike wasm's).
                    if self.nonfinite_weights(workers, case):
                        same = True
                        self.count('compared up to generation (non-finite weights)')
            if not same:
                self.differences += 1
                self.fail('difference', 'native/wasm', case,
                          f'native: {a["status"]} {a.get("kind", "")} {a.get("message", "")[:300]}\n'
                          f'   wasm:   {b["status"]} {b.get("kind", "")} {b.get("message", "")[:300]}\n'
                          + self.first_difference(workers, case))

    def nonfinite_weights(self, workers, case):
        """Whether the case's file holds NaN or infinite weights or float values (the native worker checks)."""
        try:
            reply = workers[0].request(model_payload(case['seed_index'], dict(case, flags=case['flags'] | 4)), self.args.timeout * 6)
        except (WorkerDied, WorkerTimeout):
            return False
        return reply.get('finiteWeights') is False

    def first_difference(self, workers, case):
        """Runs the case again asking for the summaries themselves, and shows where they part."""
        verbose = dict(case, flags=case['flags'] | 2)
        try:
            a, b = (worker.request(model_payload(case['seed_index'], verbose), self.args.timeout * 6) for worker in workers)
        except (WorkerDied, WorkerTimeout):
            return '   (the rerun failed)'
        for x, y in zip(a.get('parts', '').split('\n'), b.get('parts', '').split('\n')):
            if x != y:
                return f'   first differing step:\n   native {x[:400]}\n   wasm   {y[:400]}'
        return '   (the rerun agreed: the outcome depends on earlier cases)'

    # --- adapters and knowledge files -----------------------------------------------------------

    def adapter_case(self, number):
        rng = random.Random(f'{self.args.seed}:adapter:{number}')
        pick = rng.random() * self.adapter_total
        for adapter in self.adapters:
            pick -= adapter['weight']
            if pick < 0:
                break
        edits, note = ([], 'unchanged') if rng.random() < 0.05 else adapter['mutator'].case(rng)
        options = b'{"temperature":0}' if rng.random() < 0.8 else json.dumps({'temperature': 0.8, 'seed': rng.randrange(1000)}).encode()
        return {'number': number, 'kind': 'adapter', 'adapter': adapter, 'seed': adapter['name'], 'edits': edits, 'note': note,
                'options': options, 'real': adapter['weight'] < 1}

    def knowledge_case(self, number):
        rng = random.Random(f'{self.args.seed}:knowledge:{number}')
        data, index, note = self.knowledge.case(rng)
        form = -1 if rng.random() < 0.7 else rng.choice([0, 1, 2, 3])
        return {'number': number, 'kind': 'knowledge', 'seed': knowledge_seeds.FORMS[index], 'data': data, 'form': form,
                'note': f'form {form}: {note}'}

    def save_file_case(self, case, directory):
        os.makedirs(directory, exist_ok=True)
        stem = os.path.join(directory, f'case-{self.args.seed}-{case["number"]}')
        if case['kind'] == 'adapter':
            with open(case['adapter']['path'], 'rb') as f:
                data = apply_edits(f.read(), case['edits'])
            path = stem + '.adapter.gguf'
        else:
            data, path = case['data'], stem + '.tlkb'
        with open(path, 'wb') as f:
            f.write(data)
        return path

    @staticmethod
    def adapter_payload(case, flags=0):
        edits = b''.join(struct.pack('<QQI', o, d, len(i)) + i for o, d, i in case['edits'])
        return (b'\x04' + struct.pack('<III', case['adapter']['base'], case['adapter']['index'], flags)
                + struct.pack('<I', len(case['options'])) + case['options'] + struct.pack('<I', len(case['edits'])) + edits)

    def knowledge_payload(self, case):
        return (b'\x05' + struct.pack('<Ii', self.embedder_index, case['form']) + struct.pack('<I', len(self.query)) + self.query
                + case['data'])

    def run_file_case(self, workers, case):
        """An adapter or knowledge case through every worker; native and wasm must agree."""
        payload = self.adapter_payload(case) if case['kind'] == 'adapter' else self.knowledge_payload(case)
        self.count(f'{case["kind"]} seed {case["seed"]}')
        timeout = self.args.timeout * (6 if case.get('real') else 1)
        outcomes = []
        for worker in workers:
            reply = self.run_on(worker, case, payload, timeout)
            if reply is not None:
                self.check_memory(worker, case, reply)
                self.count(f'{case["kind"]} {worker.name} {reply["status"]}' + (f' kind {reply.get("kind")}' if reply['status'] == 'error' else ''))
            outcomes.append(reply)
        if len(workers) != 2 or not all(outcomes):
            return
        a, b = outcomes
        same = (a['status'], a.get('kind')) == (b['status'], b.get('kind'))
        if same and not (a['finite'] and b['finite']):
            same = a['loadSummary'] == b['loadSummary']
            self.count(f'{case["kind"]} compared up to generation (non-finite logits)')
        elif same and a['summary'] != b['summary'] and a['loadSummary'] == b['loadSummary'] and case['kind'] == 'adapter':
            # As for models: NaN or infinite weights may give finite but different logits.
            try:
                reply = workers[0].request(self.adapter_payload(case, flags=4), timeout)
            except (WorkerDied, WorkerTimeout):
                reply = {}
            same = reply.get('finiteWeights') is False
            if same:
                self.count('adapter compared up to generation (non-finite weights)')
        elif same:
            same = a['summary'] == b['summary']
        if not same:
            self.differences += 1
            self.fail('difference', 'native/wasm', case,
                      f'native: {a["status"]} {a.get("kind", "")} {a.get("message", "")[:300]}\n'
                      f'   wasm:   {b["status"]} {b.get("kind", "")} {b.get("message", "")[:300]}')

    # --- manifests ---------------------------------------------------------------------------

    def manifest_setup(self, directory):
        """Valid manifests made by the CLI: unsigned, signed, tiny chunks, empty file."""
        cli = NATIVE_CLI
        subject = os.path.join(directory, 'subject.bin')
        with open(subject, 'wb') as f:
            f.write(random.Random(5).randbytes(300_000))
        empty = os.path.join(directory, 'empty.bin')
        open(empty, 'wb').close()
        run = lambda *argv: subprocess.run([cli, 'manifest', *argv], cwd=directory, check=True, capture_output=True, text=True)
        keygen = run('keygen', '--out', 'key')
        self.public_key = next(line.split()[-1] for line in keygen.stdout.splitlines() if line.strip().startswith('hex:'))
        bases = []
        for name, argv, path in [('unsigned', ['--version', 'v1'], subject), ('signed', ['--sign', 'key.key'], subject),
                                 ('tiny', ['--chunk-size', '64', '--sign', 'key.key'], subject), ('empty', [], empty)]:
            out = os.path.join(directory, f'{name}.manifest.json')
            run('create', path, '--out', out, *argv)
            with open(out, encoding='utf-8') as f:
                bases.append((f.read(), path))
        self.manifest_bases = manifest_mutator.ManifestMutator(bases)
        self.manifest_dir = directory

    def run_manifest_case(self, native, wasm, number):
        rng = random.Random(f'{self.args.seed}:manifest:{number}')
        text, path, base, note = self.manifest_bases.case(rng)
        case = {'number': number, 'note': f'manifest: {note}', 'seed': 'manifest', 'edits': None}
        a = self.run_on(native, case, b'\x03' + text, self.args.timeout)
        key = self.public_key.encode()
        b = self.run_on(wasm, case, b'\x03' + struct.pack('<I', len(key)) + key + struct.pack('<I', len(path.encode())) + path.encode() + text,
                        self.args.timeout)
        if a is None or b is None:
            return
        self.count(f'manifest {b["status"]}')
        if a['status'] != b['status'] or (a['status'] == 'valid' and (a['canonical'], a['chunks']) != (b['canonical'], b['chunks'])):
            self.fail('disagreement', 'manifest', case, f'Swift: {json.dumps(a)[:400]}\n   JS: {json.dumps(b)[:400]}\n   text: {text[:300]!r}')
            return
        if base is not None:
            expected = hashlib.sha256(json.dumps(_without_signature(base), sort_keys=True, separators=(',', ':'), ensure_ascii=False).encode()).hexdigest()
            if b['status'] != 'valid' or b['canonical'] != expected or b.get('trusted', 'ok') != 'ok':
                self.fail('disagreement', 'manifest', case, f'a re-spelled manifest changed meaning: {json.dumps(b)[:400]}\n   text: {text[:300]!r}')
        if number % self.args.cli_every == 0:
            self.check_cli(case, text, path, b)

    def check_cli(self, case, text, path, js):
        manifest_path = os.path.join(self.manifest_dir, 'case.manifest.json')
        with open(manifest_path, 'wb') as f:
            f.write(text)
        result = subprocess.run([NATIVE_CLI, 'manifest', 'verify', path, '--manifest', manifest_path], capture_output=True, text=True)
        if js['status'] != 'valid':
            expected = 'InvalidManifestError'
        elif js.get('embedded', 'ok') != 'ok':
            expected = 'SignatureError'
        elif js.get('file') != 'ok':
            expected = 'IntegrityError'
        else:
            expected = None
        said = result.stderr.split(':', 1)[0] if result.returncode == 1 else None
        self.count('manifest cli checks')
        if result.returncode not in (0, 1) or said != expected:
            self.fail('disagreement', 'manifest cli', case, f'tinylm manifest verify: exit {result.returncode} {result.stderr.strip()[:300]}; '
                      f'web/manifest.js expects {expected or "success"}')

    # --- main ----------------------------------------------------------------------------------

    def workers(self, targets):
        made = {}
        if 'native' in targets:
            if not os.path.exists(NATIVE_WORKER):
                sys.exit(f'missing {NATIVE_WORKER}: run swift build -c release')
            made['native'] = Worker('native', [NATIVE_WORKER], self.worker_seeds, memory_limit=self.args.address_space)
        if 'wasm' in targets:
            if not os.path.exists(os.path.join(ROOT, 'web/tinylm.wasm')):
                sys.exit('missing web/tinylm.wasm: run ./build-wasm.sh single')
            made['wasm'] = Worker('wasm', ['node', WASM_WORKER], self.worker_seeds)
        for worker in made.values():
            worker.start()
        return made


def has_wide_integers(text):
    """Whether a JSON text holds an integer outside the 32-bit range."""
    try:
        value = json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return False
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, bool):
            continue
        if isinstance(item, int) and not -2**31 <= item < 2**31:
            return True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _without_signature(value):
    return {k: v for k, v in value.items() if k != 'signature'}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--cases', type=int, default=1000)
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--target', choices=['native', 'wasm', 'both', 'manifest', 'all'], default='all')
    parser.add_argument('--first', type=int, default=0, help='number of the first case (to resume a run)')
    parser.add_argument('--case', type=int, help='only rebuild (with --save) or run this case')
    parser.add_argument('--save', help='with --case: write the case file, options and chat request here')
    parser.add_argument('--save-failures', default=os.path.join(ROOT, '.build/fuzz-failures'),
                        help='where failing cases are written (empty: nowhere)')
    parser.add_argument('--real-models', choices=['auto', 'yes', 'no'], default='auto')
    parser.add_argument('--real-share', type=float, default=1.0, help='scales how often the real models are the seed')
    parser.add_argument('--manifest-share', type=float, default=0.2, help="with 'all': the share of manifest cases")
    parser.add_argument('--kinds', default='all', help=f"comma-separated case kinds ({','.join(KINDS)}) or all")
    parser.add_argument('--adapter-share', type=float, default=0.1, help='the share of adapter cases when other kinds run too')
    parser.add_argument('--knowledge-share', type=float, default=0.1, help='the share of knowledge cases when other kinds run too')
    parser.add_argument('--timeout', type=float, default=30.0, help='seconds per case (6x for the real models)')
    parser.add_argument('--memory-limit', type=int, default=512 << 20, help='bytes one case may grow memory by')
    parser.add_argument('--address-space', type=int, default=12 << 30, help='RLIMIT_AS of the native worker')
    parser.add_argument('--cli-every', type=int, default=50, help='every Nth manifest case also through tinylm manifest verify')
    parser.add_argument('--report', help='write the summary as JSON here')
    parser.add_argument('--rerun', help="run only the failed cases of this --report file (same --seed)")
    args = parser.parse_args()
    fuzzer = Fuzzer(args)
    kinds = set(KINDS) if args.kinds == 'all' else set(args.kinds.split(','))
    if not kinds <= set(KINDS):
        parser.error(f'--kinds: {", ".join(sorted(kinds - set(KINDS)))} unknown (kinds: {", ".join(KINDS)}, or all)')
    if args.target == 'manifest':
        kinds &= {'manifest'}

    if args.case is not None and args.save:
        case = fuzzer.model_case(args.case)
        stem = fuzzer.save_case(case, args.save)
        print(f'case {args.case} of seed {args.seed}: {case["seed"]}: {case["note"]}\n  {stem}.gguf (+ .options.json, .chat.json)\n'
              f'  generate: {bool(case["flags"] & 1)}')
        return 0

    model_targets = {'native': ['native'], 'wasm': ['wasm'], 'both': ['native', 'wasm'], 'manifest': [], 'all': ['native', 'wasm']}[args.target]
    manifest_share = {'manifest': 1.0, 'all': args.manifest_share}.get(args.target, 0.0)
    if 'manifest' not in kinds:
        manifest_share = 0.0
    elif 'model' not in kinds:
        manifest_share = 1.0 if manifest_share else 0.0
    fuzzer.file_kind_setup(kinds)
    file_shares = [(kind, share) for kind, share in (('adapter', args.adapter_share), ('knowledge', args.knowledge_share))
                   if kind in kinds and (kind != 'knowledge' or fuzzer.knowledge)]
    if not kinds & {'model', 'manifest'}:
        total = sum(share for _, share in file_shares) or 1.0
        file_shares = [(kind, share / total) for kind, share in file_shares]
    if not kinds & {'model', 'manifest'} and not file_shares:
        sys.exit('no case kind to run')
    workers = fuzzer.workers(set(model_targets) | ({'native', 'wasm'} if manifest_share else set()))
    temporary = tempfile.TemporaryDirectory(prefix='tinylm-fuzz-')
    if manifest_share:
        fuzzer.manifest_setup(temporary.name)
    if args.rerun:
        with open(args.rerun) as f:
            numbers = sorted({failure['case'] for failure in json.load(f)['failures']})
    elif args.case is not None:
        numbers = [args.case]
    else:
        numbers = range(args.first, args.first + args.cases)
    started = time.monotonic()
    model_cases = manifest_cases = 0
    file_cases = {'adapter': 0, 'knowledge': 0}

    def file_kind(number):
        """adapter, knowledge or None (a model or manifest case, drawn as before these kinds existed)."""
        if not file_shares:
            return None
        pick = random.Random(f'{args.seed}:file-kind:{number}').random()
        for kind, share in file_shares:
            pick -= share
            if pick < 0:
                return kind
        return None
    try:
        for done, number in enumerate(numbers, 1):
            kind = file_kind(number)
            if kind is not None:
                case = fuzzer.adapter_case(number) if kind == 'adapter' else fuzzer.knowledge_case(number)
                fuzzer.run_file_case([workers[name] for name in model_targets], case)
                file_cases[kind] += 1
            elif manifest_share and random.Random(f'{args.seed}:kind:{number}').random() < manifest_share:
                fuzzer.run_manifest_case(workers['native'], workers['wasm'], number)
                manifest_cases += 1
            else:
                fuzzer.run_model_case([workers[name] for name in model_targets], fuzzer.model_case(number))
                model_cases += 1
            if done % 500 == 0 or done == len(numbers):
                elapsed = time.monotonic() - started
                print(f'{done} cases in {elapsed:.0f} s ({done / elapsed:.0f}/s), {len(fuzzer.failures)} failures', flush=True)
    finally:
        for worker in workers.values():
            worker.stop()
        temporary.cleanup()
    elapsed = time.monotonic() - started
    summary = {
        'seed': args.seed, 'first': args.first, 'cases': len(numbers), 'model_cases': model_cases, 'manifest_cases': manifest_cases,
        'adapter_cases': file_cases['adapter'], 'knowledge_cases': file_cases['knowledge'],
        'target': args.target, 'seconds': round(elapsed, 1), 'outcomes': dict(sorted(fuzzer.counts.items())),
        'failures': fuzzer.failures,
    }
    print(json.dumps({k: v for k, v in summary.items() if k != 'failures'}, indent=1))
    print(f'{len(fuzzer.failures)} failures' + ('' if not fuzzer.failures else ': ' + ', '.join(
        f'{f["kind"]} ({f["target"]}) at case {f["case"]}' for f in fuzzer.failures[:20])))
    if args.report:
        with open(args.report, 'w') as f:
            json.dump(summary, f, indent=1)
    return 1 if fuzzer.failures else 0


if __name__ == '__main__':
    sys.exit(main())
