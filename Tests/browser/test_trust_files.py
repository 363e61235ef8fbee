"""Every published file is checked like a model (web/trusted-file.js): a LoRA adapter
(lm.loadAdapter), an embedder (TinyLM.loadEmbedder) and a knowledge file
(KnowledgeBase.fromFile) with the manifest published beside them checked chunk by chunk as they
arrive (a tampered byte: IntegrityError, that chunk not stored), a manifest signed with another
key refused (SignatureError) before anything is requested or stored, a corrupt chunk found on
read-back fetched again, and what each was checked against reported as for models."""

import hashlib
import json
import os
import shutil

import pytest

from conftest import (BAKERY_DOCUMENTS, MANIFEST_CHUNK as CHUNK, MODEL_PATH, ROOT, JSError, SAME_WITHOUT_SHARED_MEMORY,
                      manifest_for, requests_for, signing_keys, stored)

pytestmark = pytest.mark.not_in('webkit-sab', reason=SAME_WITHOUT_SHARED_MEMORY)

ADAPTER = os.path.join(ROOT, '..', 'shared', 'reference', 'smollm2-lora', 'smollm2-test-lora.gguf')
EMBEDDER = os.path.join(ROOT, 'models', 'all-MiniLM-L6-v2.gguf')
DOCUMENTS = BAKERY_DOCUMENTS[:2]


@pytest.fixture
def site(server, tmp_path):
    """/models/ served from a scratch folder holding the model, the adapter and the embedder."""
    for source, name in ((MODEL_PATH, 'smollm2.gguf'), (EMBEDDER, 'minilm.gguf')):
        os.symlink(os.path.realpath(os.path.join(ROOT, source)), tmp_path / name)
    shutil.copyfile(ADAPTER, tmp_path / 'lora.gguf')
    server.config(modelsDir=str(tmp_path))
    return tmp_path


def publish_manifest(folder, name, manifest):
    (folder / f'{name}.manifest.json').write_text(json.dumps(manifest))


LOAD_ADAPTER = """
    const [options] = args;
    const { TinyLM } = await import('/tinylm.js');
    if (!window.lm) window.lm = await TinyLM.load('/models/smollm2.gguf');
    const handle = await window.lm.loadAdapter('/models/lora.gguf', options ?? {});
    return { ...handle };
"""


def test_adapter_checked_against_its_manifest_and_its_signature(server, browser, site):
    manifest = manifest_for(site / 'lora.gguf', 'lora.gguf', 'a1')
    assert len(manifest['chunks']) == 2
    publish_manifest(site, 'lora.gguf', manifest)
    browser.get(f'{server.url}/')
    browser.run("const { TinyLM } = await import('/tinylm.js'); window.lm = await TinyLM.load('/models/smollm2.gguf');")

    # A flipped byte in chunk 1: refused before it is stored; chunk 0 (good) is kept.
    server.config(corruptAt=CHUNK + 1000)
    with pytest.raises(JSError) as failure:
        browser.run(LOAD_ADAPTER, None)
    assert failure.value.name == 'IntegrityError' and 'chunk 1' in failure.value.message, failure.value.message
    state = stored(browser, '/adapters.js', 'adapterStore')
    assert not any(r['complete'] for r in state['records'])
    assert state['chunks'] == manifest['chunks'][:1]

    server.config(corruptAt=None)
    handle = browser.run(LOAD_ADAPTER, None)
    assert handle['verified'] is True and handle['verification']['source'] == 'manifest', handle
    assert handle['version'] == 'a1' and handle['sha256'] == manifest['sha256'] and handle['info']['matrices'] == 210

    # A manifest signed with another key than the page asks for: refused, nothing requested or stored.
    keys = signing_keys(browser, manifest)
    publish_manifest(site, 'lora.gguf', keys['signed'])
    browser.run("const { adapterStore } = await import('/adapters.js'); for (const r of await adapterStore.list()) await adapterStore.delete(r.id);")
    before = len(requests_for(server, '/models/lora.gguf'))
    with pytest.raises(JSError) as failure:
        browser.run(LOAD_ADAPTER, {'publicKey': keys['other']})
    assert failure.value.name == 'SignatureError', failure.value.message
    assert stored(browser, '/adapters.js', 'adapterStore') == {'records': [], 'chunks': []}
    assert len(requests_for(server, '/models/lora.gguf')) == before, 'the adapter itself was never requested'

    signed = browser.run(LOAD_ADAPTER, {'publicKey': keys['good']})
    assert signed['verified'] is True and signed['verification']['source'] == 'signed-manifest'


def test_adapter_chunk_corrupted_in_storage_is_fetched_again(server, browser, site):
    manifest = manifest_for(site / 'lora.gguf', 'lora.gguf', 'a1')
    publish_manifest(site, 'lora.gguf', manifest)
    browser.get(f'{server.url}/')
    first = browser.run(LOAD_ADAPTER, None)
    assert first['downloaded'] is True
    # One byte of the stored chunk 1 changes on disk (as a failing disk would do it).
    browser.run("""
        const [hash] = args;
        const { adapterStore } = await import('/adapters.js');
        const db = await adapterStore.open();
        const get = db.transaction('chunks').objectStore('chunks').get(hash);
        const data = await new Promise((resolve) => { get.onsuccess = () => resolve(get.result); });
        new Uint8Array(data)[5] ^= 0xFF;
        const t = db.transaction('chunks', 'readwrite');
        t.objectStore('chunks').put(data, hash);
        await new Promise((resolve) => { t.oncomplete = resolve; });
        window.lm.terminate();
        window.lm = null;
    """, manifest['chunks'][1])
    before = requests_for(server, '/models/lora.gguf')
    again = browser.run(LOAD_ADAPTER, None)
    fetched = requests_for(server, '/models/lora.gguf')[len(before):]
    assert again['refetched'] is True and again['verified'] is True and again['sha256'] == manifest['sha256']
    assert [r['range'] for r in fetched] == [f'bytes={CHUNK}-{manifest["size"] - 1}'], fetched


def test_adapter_without_a_manifest_is_trusted_on_first_use(server, browser, site):
    browser.get(f'{server.url}/')
    handle = browser.run(LOAD_ADAPTER, None)
    assert handle['verified'] is False and handle['verification']['source'] == 'first-download'
    with open(ADAPTER, 'rb') as f:
        assert handle['sha256'] == hashlib.sha256(f.read()).hexdigest()


def test_embedder_checked_against_its_manifest_and_its_signature(server, browser, site):
    manifest = manifest_for(EMBEDDER, 'minilm.gguf', 'e1')
    browser.get(f'{server.url}/')
    keys = signing_keys(browser, manifest)
    publish_manifest(site, 'minilm.gguf', keys['signed'])
    load = """
        const [options] = args;
        const { TinyLM } = await import('/tinylm.js');
        const embedder = await TinyLM.loadEmbedder('/models/minilm.gguf', options);
        const loaded = embedder.loaded;
        await embedder.unload();
        return loaded;
    """
    with pytest.raises(JSError) as failure:
        browser.run(load, {'publicKey': keys['other']})
    assert failure.value.name == 'SignatureError', failure.value.message
    assert stored(browser, '/tinylm.js', 'modelStore') == {'records': [], 'chunks': []}
    assert requests_for(server, '/models/minilm.gguf') == []

    server.config(corruptAt=3 * CHUNK + 7)
    with pytest.raises(JSError) as failure:
        browser.run(load, {'publicKey': keys['good']})
    assert failure.value.name == 'IntegrityError' and 'chunk 3' in failure.value.message, failure.value.message
    assert not any(r['complete'] for r in stored(browser, '/tinylm.js', 'modelStore')['records'])

    server.config(corruptAt=None)
    loaded = browser.run(load, {'publicKey': keys['good']})
    assert loaded['verified'] is True and loaded['verification']['source'] == 'signed-manifest'
    assert loaded['version'] == 'e1' and loaded['sha256'] == manifest['sha256']
    assert loaded['info']['dimensions'] == 384


def test_knowledge_file_checked_against_its_manifest_and_its_signature(server, browser, site):
    browser.get(f'{server.url}/')
    # The knowledge file: built in the page from two documents, published as /models/site.tlmk.
    exported = browser.run("""
        const { TinyLM } = await import('/tinylm.js');
        const { KnowledgeBase } = await import('/knowledge-base.js');
        window.embedder = await TinyLM.loadEmbedder('/models/minilm.gguf', { manifest: false });
        const kb = await KnowledgeBase.open('source', { embedder: window.embedder, storage: 'memory' });
        await kb.add(args[0]);
        return Array.from(await kb.export());
    """, DOCUMENTS)
    (site / 'site.tlmk').write_bytes(bytes(exported))
    chunk = 256  # several chunks for a small file
    manifest = manifest_for(site / 'site.tlmk', 'site.tlmk', 'k1', chunk)
    assert len(manifest['chunks']) >= 3
    keys = signing_keys(browser, manifest)
    publish_manifest(site, 'site.tlmk', keys['signed'])
    from_file = """
        const [options] = args;
        const { KnowledgeBase } = await import('/knowledge-base.js');
        const kb = await KnowledgeBase.fromFile('/models/site.tlmk', { embedder: window.embedder, ...options });
        const hits = await kb.search('Are you open on Saturday?', { k: 1 });
        return { file: kb.file, top: hits[0].documentId };
    """
    with pytest.raises(JSError) as failure:
        browser.run(from_file, {'publicKey': keys['other']})
    assert failure.value.name == 'SignatureError', failure.value.message
    assert stored(browser, '/knowledge-files.js', 'knowledgeFileStore') == {'records': [], 'chunks': []}
    assert requests_for(server, '/models/site.tlmk') == []

    server.config(corruptAt=2 * chunk + 10)
    with pytest.raises(JSError) as failure:
        browser.run(from_file, {'publicKey': keys['good']})
    assert failure.value.name == 'IntegrityError' and 'chunk 2' in failure.value.message, failure.value.message
    state = stored(browser, '/knowledge-files.js', 'knowledgeFileStore')
    assert not any(r['complete'] for r in state['records'])
    assert set(state['chunks']) == set(manifest['chunks'][:2])

    server.config(corruptAt=None)
    result = browser.run(from_file, {'publicKey': keys['good']})
    assert result['top'] == '/hours.html'
    assert result['file']['verified'] is True and result['file']['verification']['source'] == 'signed-manifest'
    assert result['file']['version'] == 'k1' and result['file']['sha256'] == manifest['sha256']
    # Stored: the next page reads it from IndexedDB without asking for the file.
    before = len(requests_for(server, '/models/site.tlmk'))
    again = browser.run(from_file, {'publicKey': keys['good']})
    assert again['file']['downloaded'] is False and len(requests_for(server, '/models/site.tlmk')) == before


def test_app_storage_lists_every_kind_of_file_and_deletes_each(server, browser, site):
    publish_manifest(site, 'lora.gguf', manifest_for(site / 'lora.gguf', 'lora.gguf', 'a1'))
    browser.get(f'{server.url}/app/')
    exported = browser.run("""
        const { TinyLM } = await import('/tinylm.js');
        const { KnowledgeBase } = await import('/knowledge-base.js');
        const lm = await TinyLM.load('/models/smollm2.gguf');
        await lm.loadAdapter('/models/lora.gguf');
        const embedder = await lm.loadEmbedder('/models/minilm.gguf');
        const kb = await KnowledgeBase.open('source', { embedder, storage: 'memory' });
        await kb.add(args[0]);
        window.storageTest = { lm, embedder };
        return Array.from(await kb.export());
    """, DOCUMENTS)
    (site / 'site.tlmk').write_bytes(bytes(exported))
    publish_manifest(site, 'site.tlmk', manifest_for(site / 'site.tlmk', 'site.tlmk', 'k1', 256))
    browser.run("""
        const { KnowledgeBase } = await import('/knowledge-base.js');
        await KnowledgeBase.fromFile('/models/site.tlmk', { embedder: window.storageTest.embedder });
        window.storageTest.lm.terminate();
    """)
    browser.driver.find_element('id', 'settings-open').click()
    items = browser.wait_for("""(items => items.length === 4 && items)([...document.querySelectorAll('#stored-models li')]
        .map((li) => ({ kind: li.dataset.kind, id: li.dataset.model, text: li.querySelector('span').textContent })))""", timeout=30)
    kinds = {item['id'].rsplit('/', 1)[-1]: item for item in items}
    assert [item['kind'] for item in items] == ['model', 'embedder', 'adapter', 'knowledge file'], items
    assert kinds['smollm2.gguf']['text'].startswith('Model: smollm2.gguf — 98.4 MB') and 'not verified' in kinds['smollm2.gguf']['text']
    assert kinds['minilm.gguf']['text'].startswith('Embedder: minilm.gguf — 46.2 MB')
    assert kinds['lora.gguf']['text'].startswith('Adapter: lora.gguf — 4.9 MB · version a1 · verified'), kinds['lora.gguf']
    assert 'Knowledge file: site.tlmk' in kinds['site.tlmk']['text'] and 'version k1 · verified' in kinds['site.tlmk']['text']
    usage = browser.driver.execute_script("const p = document.getElementById('storage-usage'); return [p.textContent, p.dataset.persisted];")
    assert usage[0].startswith('Stored files: 150 MB') and usage[1] in ('true', 'false'), usage
    if browser.driver.execute_script('return !!navigator.storage?.estimate'):
        assert 'allowed' in usage[0], usage

    for name in ('lora.gguf', 'site.tlmk', 'minilm.gguf', 'smollm2.gguf'):
        item = f"#stored-models li[data-model$='/{name}']"
        browser.driver.execute_script(f"[...document.querySelectorAll(\"{item} button\")].find((b) => b.textContent === 'Delete').click();")
        browser.wait_for(f"!document.querySelector(\"{item}\")", timeout=30)
    for module, store in (('/tinylm.js', 'modelStore'), ('/adapters.js', 'adapterStore'), ('/knowledge-files.js', 'knowledgeFileStore')):
        assert stored(browser, module, store) == {'records': [], 'chunks': []}, store
