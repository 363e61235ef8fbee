"""The modules against llama.cpp's logits in each engine: the relaxed-SIMD modules
(web/tinylm-relaxed.wasm, web/tinylm-mt-relaxed.wasm) where the engine runs relaxed SIMD with
the standard's semantics (Chromium, Firefox; Node 20's flag gives the pre-standard dot product,
which the engine's probe rejects; WebKit has none), and the plain SIMD128 modules everywhere.
They must compute exactly the same: llama.cpp's logits bit for bit, the same greedy ids, on
one thread and on two."""

import base64
import json
import os

import pytest

from conftest import MODEL_URL_PATH, ROOT, SAME_WITHOUT_SHARED_MEMORY, expected_greedy_ids, reference_cases

REFERENCES = os.path.join(ROOT, '..', 'shared', 'reference')


def reference_logits(folder, count):
    """The first `count` prompts of logits_top.jsonl with llama.cpp's full last-position logits
    (base64 of the little-endian f32 file)."""
    reference = os.path.join(REFERENCES, folder)
    with open(os.path.join(reference, 'logits_top.jsonl')) as f:
        cases = [json.loads(line) for line in f if line.strip()][:count]
    files = {name.split('_', 1)[1][:-len('.f32')]: name for name in os.listdir(os.path.join(reference, 'logits_full'))}
    out = []
    for case in cases:
        with open(os.path.join(reference, 'logits_full', files[case['name']]), 'rb') as f:
            out.append({'name': case['name'], 'ids': case['prompt_ids'], 'logits': base64.b64encode(f.read()).decode()})
    return out


DIFFERING_LOGITS = """
    // [name, how many logits differ in their bits from the reference case's] per case
    // (-1: another count of logits), each case's prompt evaluated in a fresh session.
    const differingLogits = (model, cases) => cases.map((c) => {
      const expected = new Uint32Array(Uint8Array.from(atob(c.logits), (ch) => ch.charCodeAt(0)).buffer);
      const session = model.createSession({ contextLength: 64 });
      session.evaluate(c.ids);
      const floats = session.logits();
      const logits = new Uint32Array(floats.buffer, floats.byteOffset, floats.length);
      let count = logits.length === expected.length ? 0 : -1;
      for (let i = 0; count >= 0 && i < expected.length; i++) if (logits[i] !== expected[i]) count++;
      session.free();
      return [c.name, count];
    });
"""


# SmolLM2 runs the relaxed Q4_1/Q8_0 kernels; Gemma 3 the relaxed Q5_0, Q8_0, Q4_K and Q6_K
# ones.
@pytest.mark.not_in('webkit-sab', reason=SAME_WITHOUT_SHARED_MEMORY)
@pytest.mark.parametrize('folder, model_path, count', [
    ('smollm2', MODEL_URL_PATH, 8),
    ('gemma3', '/models/gemma-3-270m-q4_k_m.gguf', 2),
])
def test_modules_give_llama_cpp_logits_bit_for_bit(warm, engine, folder, model_path, count):
    server, browser = warm
    relaxed = engine.has('relaxed_simd')
    browser.get(f'{server.url}/')
    cases = reference_logits(folder, count)
    result = browser.run(DIFFERING_LOGITS + f"""
        const [cases, modules] = args;
        const {{ Engine, relaxedSimdSupported }} = await import('/engine.js');
        const bytes = new Uint8Array(await (await fetch('{model_path}')).arrayBuffer());
        const out = {{ supported: relaxedSimdSupported(), runs: {{}} }};
        for (const relaxedSimd of modules) {{
          const engine = await Engine.create(undefined, {{ relaxedSimd }});
          const model = engine.loadModel(bytes);
          const differing = differingLogits(model, cases);
          out.runs[engine.simd] = {{ differing, fused: engine.abi.tinylm_probe_fused_madd(1 + 2 ** -12, -(1 + 2 ** -11)) }};
          model.free();
        }}
        return out;
    """, cases, [True, False] if relaxed else [False])
    # The engine's probe must find relaxed SIMD exactly where the engine has it.
    assert result['supported'] is relaxed
    assert set(result['runs']) == ({'relaxed-simd', 'simd128'} if relaxed else {'simd128'})
    for simd, run in result['runs'].items():
        assert all(count == 0 for _, count in run['differing']), f'{simd}: logits differ from llama.cpp: {run["differing"]}'
    if relaxed:
        print(f"\nrelaxed_madd fused on this machine: {bool(result['runs']['relaxed-simd']['fused'])}")


@pytest.mark.needs('relaxed_simd', 'shared_memory')
def test_relaxed_k_quant_kernels_give_llama_cpp_logits_on_two_threads(warm):
    """Gemma 3 (Q5_0, Q4_K, Q6_K, Q8_0) through tinylm-mt-relaxed.wasm with its helper workers
    always on, so the relaxed kernels run on helper threads and on row ranges that are not
    multiples of their row groups: llama.cpp's logits bit for bit."""
    server, browser = warm
    browser.get(f'{server.url}/')
    cases = reference_logits('gemma3', 2)
    result = browser.run(DIFFERING_LOGITS + """
        const [cases] = args;
        const { Engine } = await import('/engine.js');
        const bytes = new Uint8Array(await (await fetch('/models/gemma-3-270m-q4_k_m.gguf')).arrayBuffer());
        const engine = await Engine.create(undefined, { relaxedSimd: true, threads: 2, adaptiveThreads: false });
        const model = engine.loadModel(bytes);
        // (The prompt's batch orders, and in the last layer, which keeps only the last token,
        // the single-token ones.)
        const differing = differingLogits(model, cases);
        model.free();
        return { simd: engine.simd, threads: engine.threads, differing };
    """, cases)
    assert (result['simd'], result['threads']) == ('relaxed-simd', 2)
    assert all(count == 0 for _, count in result['differing']), f"logits differ from llama.cpp: {result['differing']}"


@pytest.mark.needs('relaxed_simd', 'shared_memory')
def test_relaxed_modules_give_the_reference_ids_on_one_and_two_threads(warm):
    server, browser = warm
    browser.get(f'{server.url}/')
    case = reference_cases()[1]
    expected, tool = expected_greedy_ids(case['prompt_ids'], 48)
    results = browser.run(f"""
        const [ids] = args;
        const {{ TinyLM }} = await import('/tinylm.js');
        const out = [];
        for (const [threads, relaxedSimd] of [[1, true], [2, true], [1, false]]) {{
          const lm = await TinyLM.load('{MODEL_URL_PATH}', {{ threads, relaxedSimd, adaptiveThreads: false }});
          try {{
            const result = await lm.generate(ids, {{ temperature: 0, repeatPenalty: 1, maxTokens: 48, ignoreEOS: true }});
            out.push({{ threads: lm.loaded.threads, simd: lm.loaded.simd, tokens: result.tokens,
                       tokensPerSecond: result.timings.tokensPerSecond }});
          }} finally {{
            lm.terminate();
          }}
        }}
        return out;
    """, case['prompt_ids'])
    assert [(r['threads'], r['simd']) for r in results] == [(1, 'relaxed-simd'), (2, 'relaxed-simd'), (1, 'simd128')]
    for run in results:
        assert run['tokens'] == expected, f"{run['threads']} thread(s), {run['simd']}: ids differ from {tool}"
    print('\ndecode: ' + ', '.join(f"{r['threads']} thread(s) {r['simd']} {r['tokensPerSecond']:.1f} tokens/s" for r in results))


@pytest.mark.not_in('webkit-sab', reason=SAME_WITHOUT_SHARED_MEMORY)
def test_modules_given_as_bytes_run_as_given(warm):
    server, browser = warm
    browser.get(f'{server.url}/')
    simd = browser.run("""
        const { Engine } = await import('/engine.js');
        const bytes = await (await fetch('/tinylm.wasm')).arrayBuffer();
        return (await Engine.create(bytes)).simd;
    """)
    assert simd == 'simd128'


@pytest.mark.not_in('webkit-sab', reason=SAME_WITHOUT_SHARED_MEMORY)
def test_relaxed_kernels_give_llama_cpp_bits_for_every_format(warm, engine):
    """Tests/vectors/llama-kernels (llama.cpp's own results, scripts/kernel-vectors/make.py)
    through tinylm_matmul in both modules: the relaxed kernels (Q4_1, Q5_0, Q8_0 and every
    K-quant, each in all of its orders: 45 rows take vec_dot and tiled, 64 rows of Q4_K and
    Q2_K the repacked GEMV and GEMM) and Q4_0's and Q5_1's SIMD128 kernels, at every batch
    size."""
    server, browser = warm
    browser.get(f'{server.url}/')
    directory = os.path.join(ROOT, 'Tests', 'vectors', 'llama-kernels')
    with open(os.path.join(directory, 'manifest.json')) as f:
        manifest = json.load(f)

    def encoded(name):
        with open(os.path.join(directory, name), 'rb') as f:
            return base64.b64encode(f.read()).decode()

    types = {'q4_0': 2, 'q4_1': 3, 'q5_0': 6, 'q5_1': 7, 'q8_0': 8, 'q2_K': 10, 'q3_K': 11, 'q4_K': 12, 'q5_K': 13, 'q6_K': 14}
    matrices = [{'type': types[m['type']], 'name': f"{m['type']}-r{m['rows']}", 'rows': m['rows'],
                 'weights': encoded(f"{m['type']}-r{m['rows']}.weights"), 'out': encoded(f"{m['type']}-r{m['rows']}.out")}
                for m in manifest['matrices']]
    result = browser.run("""
        const [matrices, activations, columns, batches] = args;
        const { Engine } = await import('/engine.js');
        const decode = (text) => Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));
        const out = {};
        for (const relaxedSimd of [true, false]) {
          const engine = await Engine.create(undefined, { relaxedSimd });
          const copyIn = (bytes) => {
            const pointer = engine.abi.tinylm_alloc(bytes.byteLength);
            new Uint8Array(engine.memory.buffer, pointer, bytes.byteLength).set(bytes);
            return pointer;
          };
          const input = copyIn(decode(activations));
          const differing = [];
          for (const m of matrices) {
            const weights = copyIn(decode(m.weights));
            const expected = new Uint32Array(decode(m.out).buffer);
            let offset = 0;
            for (const batch of batches) {
              const count = batch * m.rows;
              const output = engine.abi.tinylm_alloc(count * 4);
              let wrong = engine.abi.tinylm_matmul(m.type, m.rows, columns, weights, input, batch, output) === 0 ? 0 : -1;
              const got = new Uint32Array(engine.memory.buffer, output, count);
              for (let i = 0; wrong >= 0 && i < count; i++) if (got[i] !== expected[offset + i]) wrong++;
              if (wrong !== 0) differing.push([m.name, batch, wrong]);
              engine.abi.tinylm_free(output);
              offset += count;
            }
            engine.abi.tinylm_free(weights);
          }
          out[engine.simd] = differing;
        }
        return out;
    """, matrices, encoded('activations.f32'), manifest['columns'], manifest['batches'])
    # Where the engine has no relaxed SIMD (WebKit), asking for it gives the plain module.
    assert set(result) == ({'relaxed-simd', 'simd128'} if engine.has('relaxed_simd') else {'simd128'})
    for simd, differing in result.items():
        assert differing == [], f'{simd}: results differ from llama.cpp (matrix, batch, count): {differing}'


# The generated one-format models (scripts/make-test-models.py; their matrices have 128, 256 or
# 1024 rows): prompts of 10–70 tokens take the tiled order (Q3_K, Q5_K, Q6_K) or the repacked
# GEMM (Q2_K, Q4_K), each decode step vec_dot or the repacked GEMV.
TEST_MODEL_FORMATS = ['q4_1', 'q5_0', 'q8_0', 'q2_k', 'q3_k', 'q4_k', 'q5_k', 'q6_k']


@pytest.mark.not_in('webkit-sab', reason=SAME_WITHOUT_SHARED_MEMORY)
def test_format_test_models_give_llama_cpp_logits_in_both_modules(warm, engine):
    """Each one-format test model through the relaxed module (where the engine runs it) and
    the plain one: every prompt's last logits bit for bit as llama.cpp's, then 12 decode steps
    teacher-forced on llama.cpp's greedy ids, each step's top-5 logits exactly llama.cpp's."""
    server, browser = warm
    browser.get(f'{server.url}/')
    models = []
    for name in TEST_MODEL_FORMATS:
        folder = os.path.join(ROOT, 'Tests', 'models', 'reference', f'llama-{name}')
        with open(os.path.join(folder, 'greedy_steps_top5.jsonl')) as f:
            cases = [json.loads(line) for line in f if line.strip()]
        files = {n.split('_', 1)[1][:-len('.f32')]: n for n in os.listdir(os.path.join(folder, 'logits_full'))}
        for case in cases:
            with open(os.path.join(folder, 'logits_full', files[case['name']]), 'rb') as f:
                case['logits'] = base64.b64encode(f.read()).decode()
            case['steps'] = case['steps'][:12]
        with open(os.path.join(ROOT, 'Tests', 'models', f'llama-{name}.gguf'), 'rb') as f:
            models.append({'name': name, 'bytes': base64.b64encode(f.read()).decode(), 'cases': cases})
    result = browser.run("""
        const [models, modules] = args;
        const { Engine } = await import('/engine.js');
        const decode = (text) => Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));
        const out = {};
        for (const relaxedSimd of modules) {
          const engine = await Engine.create(undefined, { relaxedSimd });
          const differing = [];
          let steps = 0;
          for (const m of models) {
            const model = engine.loadModel(decode(m.bytes));
            for (const c of m.cases) {
              const expected = new Uint32Array(decode(c.logits).buffer);
              const session = model.createSession({ contextLength: 2048, batchSize: 128 });
              session.evaluate(c.prompt_ids);
              let floats = session.logits();
              const bits = new Uint32Array(floats.buffer, floats.byteOffset, floats.length);
              let wrong = bits.length === expected.length ? 0 : -1;
              for (let i = 0; wrong >= 0 && i < expected.length; i++) if (bits[i] !== expected[i]) wrong++;
              if (wrong !== 0) differing.push([m.name, c.name, 'prompt', wrong]);
              c.steps.forEach((step, i) => {
                if (i > 0) {
                  session.evaluate([c.gen_ids[i - 1]]);
                  floats = session.logits();
                }
                steps++;
                const off = step.ids.filter((id, k) => floats[id] !== Math.fround(step.logits[k]));
                if (off.length) differing.push([m.name, c.name, i, off]);
              });
              session.free();
            }
            model.free();
          }
          out[engine.simd] = { differing, steps };
        }
        return out;
    """, models, [True, False] if engine.has('relaxed_simd') else [False])
    assert set(result) == ({'relaxed-simd', 'simd128'} if engine.has('relaxed_simd') else {'simd128'})
    for simd, run in result.items():
        assert run['steps'] == sum(len(c['steps']) for m in models for c in m['cases'])
        assert run['differing'] == [], f'{simd}: differs from llama.cpp (model, prompt, step, count or ids): {run["differing"]}'
