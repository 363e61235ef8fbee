"""Every architecture's random-weight test model (Tests/models: llama, Llama 3, Qwen 2, Qwen 3,
Phi-3 with and without LongRoPE, Gemma 3) in the browser's wasm modules, against llama.cpp's
outputs on them (Tests/models/reference): the whole vocabulary's prompt logits bit for bit
(every weight format of these models follows llama.cpp's summation order) and the greedy ids.
Tests/web/test-models.test.mjs checks the same in Node; this is the engine a page runs."""

import base64
import json
import os

import pytest

from conftest import ROOT, SAME_WITHOUT_SHARED_MEMORY

MODELS = os.path.join(ROOT, 'Tests', 'models')
ARCHITECTURE_MODELS = ['llama-smollm2', 'llama3', 'qwen2', 'qwen3', 'phi3', 'phi3-longrope', 'gemma3']
# Prompts per model: the shortest reference prompts keep the run short in every engine.
PROMPTS_PER_MODEL = 2
GREEDY_STEPS = 16


def model_case(name):
    with open(os.path.join(MODELS, f'{name}.gguf'), 'rb') as f:
        model = base64.b64encode(f.read()).decode()
    reference = os.path.join(MODELS, 'reference', name)
    with open(os.path.join(reference, 'greedy.jsonl')) as f:
        greedy = [json.loads(line) for line in f if line.strip()]
    greedy.sort(key=lambda c: len(c['prompt_ids']))
    logit_files = {n.split('_', 1)[1][:-len('.f32')]: n for n in os.listdir(os.path.join(reference, 'logits_full'))}
    prompts = []
    for c in greedy[:PROMPTS_PER_MODEL]:
        with open(os.path.join(reference, 'logits_full', logit_files[c['name']]), 'rb') as f:
            logits = base64.b64encode(f.read()).decode()
        prompts.append({'name': c['name'], 'ids': c['prompt_ids'], 'greedy': c['gen_ids'][:GREEDY_STEPS], 'logits': logits})
    return {'name': name, 'model': model, 'prompts': prompts}


@pytest.mark.not_in('webkit-sab', reason=SAME_WITHOUT_SHARED_MEMORY)
@pytest.mark.parametrize('name', ARCHITECTURE_MODELS)
def test_architecture_matches_llama_cpp_in_the_browser(warm, name):
    server, browser = warm
    browser.get(f'{server.url}/')
    case = model_case(name)
    result = browser.run("""
        const [c] = args;
        const { Engine } = await import('/engine.js');
        const engine = await Engine.create();
        const model = engine.loadModel(Uint8Array.from(atob(c.model), (ch) => ch.charCodeAt(0)));
        const out = { simd: engine.simd, architecture: model.info.architecture, prompts: [] };
        for (const p of c.prompts) {
          const expected = new Uint32Array(Uint8Array.from(atob(p.logits), (ch) => ch.charCodeAt(0)).buffer);
          const session = model.createSession({ contextLength: 2048, batchSize: 128 });
          session.evaluate(p.ids);
          const floats = session.logits();
          const logits = new Uint32Array(floats.buffer, floats.byteOffset, floats.length);
          let differing = logits.length === expected.length ? 0 : -1;
          for (let i = 0; differing >= 0 && i < expected.length; i++) if (logits[i] !== expected[i]) differing++;
          session.free();
          const generator = model.createSession({ contextLength: 2048, batchSize: 128 });
          const generated = generator.generate(p.ids, { temperature: 0, maxTokens: p.greedy.length, ignoreEOS: true });
          generator.free();
          out.prompts.push({ name: p.name, differing, tokens: generated.tokens });
        }
        model.free();
        return out;
    """, case)
    for prompt, expected in zip(result['prompts'], case['prompts']):
        assert prompt['differing'] == 0, f"{name} {prompt['name']} ({result['simd']}): {prompt['differing']} logits differ from llama.cpp's"
        assert prompt['tokens'] == expected['greedy'], f"{name} {prompt['name']} ({result['simd']}): greedy ids differ from llama.cpp's"
    print(f"\n{name} ({result['architecture']}, {result['simd']}): prompt logits bit-identical, "
          f"greedy ids equal on {len(result['prompts'])} prompts")
