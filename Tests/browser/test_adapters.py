"""LoRA adapters through the public API (web/tinylm.js, adapters.js): the SmolLM2 reference
adapter of ../shared/reference/smollm2-lora/ downloaded from the test server into IndexedDB,
applied per request with llama.cpp's greedy ids at scales 1.0 and 0.5, the base model again
without it, a malformed adapter's named error, unloading, and loading from the store."""

import hashlib
import json
import os
import tempfile

import pytest

from conftest import MODEL_PATH, ROOT, Browser, JSError, StaticServer

ADAPTER = os.path.join(ROOT, '..', 'shared', 'reference', 'smollm2-lora', 'smollm2-test-lora.gguf')
MODEL_NAME = os.path.basename(MODEL_PATH)
ADAPTER_NAME = os.path.basename(ADAPTER)


def greedy_reference(folder):
    with open(os.path.join(ROOT, '..', 'shared', 'reference', folder, 'greedy.jsonl')) as f:
        return {c['name']: c for c in map(json.loads, filter(str.strip, f))}


def exact_steps(case, threshold=0.05):
    """The reference rule: ids are exact up to the first step whose top-1/top-2 gap is < 0.05."""
    gaps = case['top1_top2_gap']
    return next((i for i, gap in enumerate(gaps) if gap < threshold), len(gaps))


@pytest.fixture
def adapter_server():
    """The test server with /models/ holding the model and the reference adapter."""
    folder = tempfile.mkdtemp(prefix='tinylm-adapters-')
    os.symlink(os.path.realpath(os.path.join(ROOT, MODEL_PATH)), os.path.join(folder, MODEL_NAME))
    os.symlink(os.path.realpath(ADAPTER), os.path.join(folder, ADAPTER_NAME))
    server = StaticServer('--models-dir', folder).start()
    yield server
    server.stop()
    for name in (MODEL_NAME, ADAPTER_NAME):
        os.unlink(os.path.join(folder, name))
    os.rmdir(folder)


GENERATE = """
const [ids, scale, count] = args;
const adapters = scale === null ? undefined : [{ adapter: window.adapter, scale }];
return (await window.lm.generate(ids, { temperature: 0, repeatPenalty: 1, maxTokens: count, ignoreEOS: true, adapters })).tokens;
"""


def test_reference_adapter_in_the_browser(adapter_server, engine):
    with open(ADAPTER, 'rb') as f:
        sha256 = hashlib.sha256(f.read()).hexdigest()
    lora = {scale: greedy_reference(f'smollm2-lora/scale-{scale}') for scale in ('1.0', '0.5')}
    base = greedy_reference('smollm2')
    browser = Browser(engine)
    try:
        browser.get(f'{adapter_server.url}/')
        loaded = browser.run(f"""
            const [sha256] = args;
            const {{ TinyLM }} = await import('/tinylm.js');
            window.lm = await TinyLM.load('/models/{MODEL_NAME}');
            const progress = [];
            window.adapter = await window.lm.loadAdapter('/models/{ADAPTER_NAME}', {{ sha256, onProgress: (p) => progress.push(p.phase) }});
            return {{ handle: {{ ...window.adapter }}, phases: [...new Set(progress)] }};
        """, sha256)
        handle = loaded['handle']
        assert handle['sha256'] == sha256 and handle['downloaded'] is True
        assert handle['info']['matrices'] == 210 and handle['info']['maxRank'] == 8 and handle['info']['alpha'] == 16
        assert loaded['phases'] == ['download', 'verify', 'load']

        # Per request: the adapter at 1.0 and 0.5, then the base model, on prompts where the
        # adapter changes the answer (the reference README names them).
        for scale, name in (('1.0', 'fibonacci'), ('0.5', 'qa_math'), ('1.0', 'qa_math'), (None, 'fibonacci')):
            case = (lora[scale] if scale else base)[name]
            tokens = browser.run(GENERATE, case['prompt_ids'], float(scale) if scale else None, 48)
            exact = exact_steps(case)
            assert exact >= 8, f'{name}: the reference is fragile early'
            assert tokens[:exact] == case['gen_ids'][:exact], f'{name} at scale {scale}: differs from llama.cpp before step {exact}'
        assert lora['1.0']['fibonacci']['gen_ids'] != base['fibonacci']['gen_ids']

        # A malformed adapter (general.type "xdapter") gets its named error; the model keeps working.
        with pytest.raises(JSError) as info:
            browser.run(f"""
                const bytes = new Uint8Array(await (await fetch('/models/{ADAPTER_NAME}')).arrayBuffer());
                const key = new TextEncoder().encode('general.type');
                let at = -1;
                for (let i = 0; i < 4096 && at < 0; i++) if (key.every((b, j) => bytes[i + j] === b)) at = i;
                bytes[at + key.length + 4 + 8] = 'x'.charCodeAt(0); // the value after its type and length
                await window.lm.loadAdapter(new File([bytes], 'not-an-adapter.gguf'));
            """)
        assert info.value.name == 'NotAnAdapterError', info.value
        case = lora['1.0']['capital_france']
        assert browser.run(GENERATE, case['prompt_ids'], 1.0, 12) == case['gen_ids'][:12]

        # Unloaded, the handle is refused; loaded again it comes from IndexedDB.
        assert browser.run('return await window.lm.unloadAdapter(window.adapter);') is True
        with pytest.raises(JSError) as info:
            browser.run(GENERATE, case['prompt_ids'], 1.0, 2)
        assert info.value.name == 'InvalidStateError'
        again = browser.run(f"""
            window.adapter = await window.lm.loadAdapter('/models/{ADAPTER_NAME}');
            const {{ adapterStore, modelStore }} = await import('/tinylm.js');
            return {{ downloaded: window.adapter.downloaded, adapters: (await adapterStore.list()).length,
                      models: (await modelStore.list()).length }};
        """)
        assert again == {'downloaded': False, 'adapters': 1, 'models': 1}
        assert browser.run(GENERATE, case['prompt_ids'], 1.0, 12) == case['gen_ids'][:12]
    finally:
        browser.quit()


def test_the_assistant_applies_an_added_adapter_per_conversation(adapter_server, engine):
    """web/app/: the user adds the adapter file and picks it for one conversation; that
    conversation's greedy answer is llama.cpp's with the adapter, another one's the base model's."""
    from test_app import ask  # the assistant's question-and-answer helper
    lora = greedy_reference('smollm2-lora/scale-1.0')['chat_capital']
    base = greedy_reference('smollm2')['chat_capital']
    question = 'What is the capital of France?'
    assert question in lora['prompt_text']
    browser = Browser(engine)
    try:
        browser.get(f'{adapter_server.url}/app/')
        browser.wait_for("document.body.dataset.state === 'absent'")
        browser.driver.execute_script("Object.assign(tinylmApp.settings, { maxTokens: 10, temperature: 0, repeatPenalty: 1, system: '' });")
        browser.driver.find_element('id', 'download').click()
        browser.wait_for("document.body.dataset.state === 'ready'", timeout=180)

        # What the file picker hands over: a File of the adapter's bytes.
        browser.run(f"""
            const bytes = await (await fetch('/models/{ADAPTER_NAME}')).arrayBuffer();
            await tinylmApp.adapters.add(new File([bytes], '{ADAPTER_NAME}'));
        """)
        picked = browser.driver.execute_script(
            "const s = document.getElementById('adapter'); return [s.value, s.selectedOptions[0].textContent, tinylmApp.conversation.adapter];")
        assert picked[0].startswith('file:') and picked[0] == picked[2], picked
        assert picked[1].startswith(ADAPTER_NAME), picked
        adapted_conversation = browser.driver.execute_script('return tinylmApp.conversation.id;')
        adapted = ask(browser, question)

        browser.driver.find_element('id', 'new-chat').click()
        browser.wait_for("document.getElementById('adapter').value === '' && tinylmApp.conversation.messages.length === 0")
        plain = ask(browser, question)

        # The pieces of llama.cpp's greedy answers, as far as the reference rule makes them exact.
        def expected(case, count):
            return b''.join(bytes.fromhex(piece) for piece in case['gen_pieces_hex'][:count]).decode('utf-8', 'replace')
        assert adapted.startswith(expected(lora, 10).strip()), (adapted, expected(lora, 10))
        assert plain.startswith(expected(base, 10).strip()), (plain, expected(base, 10))
        assert adapted != plain

        # Back in the first conversation its adapter is picked again.
        browser.driver.execute_script(  # the list shows the most recent first
            "const items = [...document.querySelectorAll('#conversations li')];"
            "items[items.length - 1].querySelector('.open').click();")
        browser.wait_for(f"tinylmApp.conversation.id === '{adapted_conversation}' && document.getElementById('adapter').value.startsWith('file:')")
    finally:
        browser.quit()
