"""Models you can trust and update (web/model-trust.js, web/model-updates.js, web/model-store.js):
the manifest published beside a model checked chunk by chunk as it arrives, a signature required
by a public key, trust on first download without a manifest, updates that download only the
changed chunks and switch atomically, and the storage faults a visitor's browser meets (a tab
closed mid-download or mid-update, the file changing on the server, two tabs, a full disk, an
evicted store). Each test has a fresh browser profile and serves /models/ from its own folder
(serve.py's modelsDir), holding copies of SmolLM2 made with the gguf package (never committed):
  v1  the real file
  v2  v1 with one metadata string changed in place (same length, so no tensor moves)
  v3  v2 with a few tensors' quantized bytes changed
"""

import json
import os
import shutil
import time

import numpy as np
import pytest

from conftest import (JSError, MANIFEST_CHUNK as CHUNK, MODEL_PATH, ROOT, SAME_WITHOUT_SHARED_MEMORY, manifest_for,
                      requests_for, signing_keys, stored)

pytestmark = pytest.mark.not_in('webkit-sab', reason=SAME_WITHOUT_SHARED_MEMORY)

NAME = 'smollm2.gguf'
URL = f'/models/{NAME}'
CHANGED_TENSORS = ('blk.3.ffn_down.weight', 'blk.14.attn_q.weight', 'blk.27.ffn_up.weight')


@pytest.fixture(scope='module')
def versions(tmp_path_factory):
    """{'v1'|'v2'|'v3': (path, manifest)} in a scratch folder (deleted after the tests)."""
    import gguf
    folder = tmp_path_factory.mktemp('model-versions')
    v1 = folder / 'v1.gguf'
    shutil.copyfile(os.path.join(ROOT, MODEL_PATH), v1)
    v2 = folder / 'v2.gguf'
    shutil.copyfile(v1, v2)
    reader = gguf.GGUFReader(str(v2), 'r+')
    field = reader.fields['general.name']
    name = field.parts[field.data[0]]
    name[:] = np.frombuffer(bytes(name.tobytes()).upper(), dtype=name.dtype)  # same length: no offset moves
    reader.data.flush()
    del reader
    v3 = folder / 'v3.gguf'
    shutil.copyfile(v2, v3)
    reader = gguf.GGUFReader(str(v3), 'r+')
    for tensor in reader.tensors:
        if tensor.name in CHANGED_TENSORS:
            raw = tensor.data.view(np.uint8).reshape(-1)
            # Q4_1 blocks: 2+2 bytes of scales, then 16 bytes of nibbles; swapping nibbles keeps it valid.
            blocks = raw.reshape(-1, 20)
            blocks[:, 4:] = ((blocks[:, 4:] >> 4) | (blocks[:, 4:] << 4)) & 0xFF
    reader.data.flush()
    del reader
    return {v: (str(p), manifest_for(p, NAME, v)) for v, p in (('v1', v1), ('v2', v2), ('v3', v3))}


@pytest.fixture
def site(server, tmp_path):
    """The server's /models/ folder, and publish(version, manifest=True|dict|None)."""
    server.config(modelsDir=str(tmp_path))

    class Site:
        folder = tmp_path

        def publish(self, versions, version, manifest=True):
            path, described = versions[version]
            target = tmp_path / NAME
            staging = tmp_path / f'.{NAME}.new'
            shutil.copyfile(path, staging)
            os.utime(staging, ns=(time.time_ns(), time.time_ns()))
            os.replace(staging, target)  # a new file: a new ETag
            manifest_path = tmp_path / f'{NAME}.manifest.json'
            if manifest is None:
                manifest_path.unlink(missing_ok=True)
            else:
                manifest_path.write_text(json.dumps(described if manifest is True else manifest))
            return described

    return Site()


def range_bytes(request):
    if not request['range']:
        return None
    first, last = request['range'].removeprefix('bytes=').split('-')
    return int(first), int(last) if last else None


def load(browser, url=URL, **options):
    return browser.run(f"""
        const [url, options] = args;
        const {{ TinyLM }} = await import('/tinylm.js');
        window.progress = [];
        if (window.lm) window.lm.terminate();
        window.lm = await TinyLM.load(url, {{ ...options, onProgress: (p) => window.progress.push(p) }});
        const {{ tokens }} = await window.lm.generate([1, 504, 3575, 282], {{ temperature: 0, maxTokens: 2 }});
        return {{ ...window.lm.loaded, tokens }};
    """, url, options)


# --- 2. integrity by default ----------------------------------------------------------------

def test_published_manifest_checks_each_chunk_as_it_arrives(server, browser, site, versions):
    manifest = site.publish(versions, 'v1')
    browser.get(f'{server.url}/')
    # The server flips a byte in chunk 2: that chunk is refused before it is stored.
    server.config(corruptAt=2 * CHUNK + 100)
    with pytest.raises(JSError) as failure:
        load(browser)
    assert failure.value.name == 'IntegrityError' and 'chunk 2' in failure.value.message, failure.value.message
    state = stored(browser)
    assert not any(r['complete'] for r in state['records'])
    assert set(state['chunks']) == set(manifest['chunks'][:2]), 'only the chunks before the bad one are stored'

    # Fixed on the server: the next load fetches from chunk 2 on, and says what it checked.
    server.config(corruptAt=None)
    before = len(requests_for(server, URL))
    loaded = load(browser)
    again = requests_for(server, URL)[before:]
    assert range_bytes(again[0])[0] == 2 * CHUNK, again
    assert loaded['verified'] is True and loaded['verification']['source'] == 'manifest'
    assert loaded['version'] == 'v1' and loaded['sha256'] == manifest['sha256']
    assert loaded['tokens'] == load(browser)['tokens']


def test_without_manifest_the_first_download_is_recorded(server, browser, site, versions):
    site.publish(versions, 'v1', manifest=None)
    browser.get(f'{server.url}/')
    first = load(browser)
    assert first['verified'] is False and first['verification']['source'] == 'first-download'
    assert 'first download' in first['verification']['reason']
    assert first['sha256'] == versions['v1'][1]['sha256']
    again = load(browser)
    assert again['downloaded'] is False and again['verified'] is False and again['sha256'] == first['sha256']


def test_public_key_requires_a_signed_manifest(server, browser, site, versions):
    browser.get(f'{server.url}/')
    keys = signing_keys(browser, versions['v1'][1])  # the manifest signed with keys['good']

    site.publish(versions, 'v1')  # unsigned
    with pytest.raises(JSError) as failure:
        load(browser, publicKey=keys['good'])
    assert failure.value.name == 'SignatureError' and 'not signed' in failure.value.message
    site.publish(versions, 'v1', manifest=keys['signed'])
    with pytest.raises(JSError) as failure:
        load(browser, publicKey=keys['other'])
    assert failure.value.name == 'SignatureError'
    assert stored(browser) == {'records': [], 'chunks': []}, 'nothing is stored before the signature checks out'
    assert requests_for(server, URL) == [], 'the model itself was never requested'

    loaded = load(browser, publicKey=keys['good'])
    assert loaded['verified'] is True and loaded['verification']['source'] == 'signed-manifest'
    # A tampered manifest (one chunk hash changed) no longer matches the signature.
    tampered = json.loads(json.dumps(keys['signed']))
    tampered['chunks'][5] = '0' * 64
    site.publish(versions, 'v1', manifest=tampered)
    browser.run("const { modelStore } = await import('/tinylm.js'); for (const r of await modelStore.list()) await modelStore.delete(r.id);")
    with pytest.raises(JSError) as failure:
        load(browser, publicKey=keys['good'])
    assert failure.value.name == 'SignatureError'


# --- 3. updates ------------------------------------------------------------------------------

def test_update_downloads_only_changed_chunks_and_switches_atomically(server, browser, site, versions):
    site.publish(versions, 'v1')
    browser.get(f'{server.url}/')
    v1 = load(browser)
    assert v1['version'] == 'v1'
    measured = {}
    for version in ('v2', 'v3'):
        manifest = site.publish(versions, version)
        previous = versions['v1' if version == 'v2' else 'v2'][1]
        changed = [i for i, (a, b) in enumerate(zip(previous['chunks'], manifest['chunks'])) if a != b]
        check = browser.run("const { TinyLM } = await import('/tinylm.js'); return await TinyLM.checkForUpdate(args[0]);", URL)
        expected = sum(min(CHUNK, manifest['size'] - i * CHUNK) for i in changed)
        assert check['available'] is True and check['latest']['version'] == version and check['bytes'] == expected, check

        # Interrupted: every response breaks off after 1 MB, so update() gives up (NetworkError);
        # the stored version still loads.
        server.config(cutAfter=1_000_000, cutCount=None)
        before = len(requests_for(server, URL))
        with pytest.raises(JSError) as failure:
            browser.run("const { TinyLM } = await import('/tinylm.js'); await TinyLM.update(args[0]);", URL)
        assert failure.value.name == 'NetworkError', failure.value
        server.config(cutAfter=None)
        old = load(browser)
        assert old['sha256'] == previous['sha256'] and old['downloaded'] is False

        result = browser.run("""
            const { TinyLM } = await import('/tinylm.js');
            const events = [];
            const result = await TinyLM.update(args[0], { onProgress: (p) => events.push(p) });
            return { ...result, events: events.length };
        """, URL)
        sent = sum(r['sent'] for r in requests_for(server, URL)[before:])
        measured[version] = (result['downloadedBytes'], sent, len(changed))
        assert result['updated'] is True and result['version'] == version and result['events'] > 0
        assert result['downloadedBytes'] == expected, result
        cut_attempts = sum(1 for r in requests_for(server, URL)[before:] if r['sent'] == 1_000_000)
        assert sent == expected + 1_000_000 * cut_attempts, 'only the changed chunks travel (plus the cut attempts)'
        new = load(browser)
        assert new['sha256'] == manifest['sha256'] and new['version'] == version and new['downloaded'] is False
        state = stored(browser)
        assert sorted(state['chunks']) == sorted(set(manifest['chunks'])), 'chunks of the old version are collected'
    print(f"\nupdate bytes: metadata only {measured['v2']}, three tensors {measured['v3']} "
          f"(downloadedBytes, bytes the server sent incl. the cut attempt, changed chunks) of {versions['v1'][1]['size']}")


# --- 5. faults ------------------------------------------------------------------------------

def test_file_changing_on_the_server_mid_download_never_mixes(server, browser, site, versions):
    # With a manifest: the first response is cut, then v3 replaces v1 (file and manifest).
    site.publish(versions, 'v1')
    server.config(cutAfter=30_000_000, cutCount=1, rate=60_000_000)
    browser.get(f'{server.url}/')
    browser.run("""
        const { TinyLM } = await import('/tinylm.js');
        window.first = TinyLM.load(args[0]).then((lm) => lm.loaded, (e) => ({ error: e.name, message: e.message }));
    """, URL)
    deadline = time.monotonic() + 60
    while not any(r['sent'] for r in requests_for(server, URL)) and time.monotonic() < deadline:
        time.sleep(0.1)
    v3 = site.publish(versions, 'v3')
    loaded = browser.run("return await window.first;")
    assert 'error' not in loaded, loaded
    # The resumption races the swap: it may have fetched the rest of v1 before v3 replaced it
    # (a resumed planned download retries at once). Either way the stored file is one version
    # whole, each chunk checked against that version's manifest, never a mix.
    version = loaded['version']
    assert version in ('v1', 'v3') and loaded['sha256'] == versions[version][1]['sha256'], loaded
    record = browser.run(f"const {{ modelStore }} = await import('/tinylm.js'); return (await modelStore.get(new URL('{URL}', location.href).href)).chunkHashes;")
    assert record == versions[version][1]['chunks']
    print(f'\n{browser.engine}: the file changed mid-download; stored {version}')

    # Without a manifest (streamed, trust on first download): If-Range fails, the download restarts.
    browser.run("const { modelStore } = await import('/tinylm.js'); for (const r of await modelStore.list()) await modelStore.delete(r.id);")
    site.publish(versions, 'v1', manifest=None)
    server.config(cutAfter=30_000_000, cutCount=1, rate=60_000_000)
    browser.run("""
        const { TinyLM } = await import('/tinylm.js');
        window.second = TinyLM.load(args[0]).then((lm) => lm.loaded, (e) => ({ error: e.name, message: e.message }));
    """, URL)
    before = len(requests_for(server, URL))
    deadline = time.monotonic() + 60
    while len([r for r in requests_for(server, URL)[before:] if r['sent']]) == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    site.publish(versions, 'v3', manifest=None)
    loaded = browser.run("return await window.second;")
    assert 'error' not in loaded, loaded
    assert loaded['sha256'] in (versions['v1'][1]['sha256'], versions['v3'][1]['sha256'])
    statuses = [r['status'] for r in requests_for(server, URL)[before:]]
    if loaded['sha256'] == versions['v3'][1]['sha256']:
        assert statuses == [200, 200], statuses  # the resumption's If-Range failed: the whole new file
    else:
        assert statuses == [200, 206], statuses  # resumed before the swap: the rest of v1


def test_tab_closed_mid_download_and_mid_update_resumes(server, browser, site, versions):
    site.publish(versions, 'v1')
    server.config(rate=20_000_000)
    browser.get(f'{server.url}/')
    first_tab = browser.driver.current_window_handle
    browser.driver.execute_script(f"import('/tinylm.js').then(({{ TinyLM }}) => TinyLM.load('{URL}'));")
    browser.driver.switch_to.new_window('tab')
    browser.get(f'{server.url}/')
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        partial = [r for r in stored(browser)['records'] if r['name'] == NAME]
        if partial and len(stored(browser)['chunks']) >= 3:
            break
        time.sleep(0.2)
    keep = len(stored(browser)['chunks'])
    second_tab = browser.driver.current_window_handle
    browser.driver.switch_to.window(first_tab)
    browser.driver.close()  # the downloading tab goes away mid-download
    browser.driver.switch_to.window(second_tab)
    server.config(rate=None)
    time.sleep(1)  # the server logs a request when it ends: the closed tab's broken one first
    before = len(requests_for(server, URL))
    loaded = load(browser)
    resumed = requests_for(server, URL)[before:]
    assert range_bytes(resumed[0])[0] >= keep * CHUNK - CHUNK, (keep, resumed)
    assert loaded['sha256'] == versions['v1'][1]['sha256']

    # Mid-update: the tab running update() closes; the old version serves, update() resumes.
    v3 = site.publish(versions, 'v3')
    changed = [h for h in v3['chunks'] if h not in versions['v1'][1]['chunks']]
    server.config(rate=2_000_000)
    browser.driver.execute_script(f"import('/tinylm.js').then(({{ TinyLM }}) => TinyLM.update('{URL}'));")
    deadline = time.monotonic() + 60
    while not set(changed) & set(stored(browser)['chunks']) and time.monotonic() < deadline:
        time.sleep(0.2)  # until the first new chunk is stored
    updating = browser.driver.current_window_handle
    browser.driver.switch_to.new_window('tab')
    fresh = browser.driver.current_window_handle
    browser.driver.switch_to.window(updating)
    browser.driver.close()
    browser.driver.switch_to.window(fresh)
    server.config(rate=None)
    browser.get(f'{server.url}/')
    old = load(browser)
    assert old['sha256'] == versions['v1'][1]['sha256'], 'the stored version serves until the update completes'
    pending = [r for r in stored(browser)['records'] if r['name'] == NAME][0]['pending']
    assert pending and pending['version'] == 'v3'
    result = browser.run("const { TinyLM } = await import('/tinylm.js'); return await TinyLM.update(args[0]);", URL)
    check = browser.run("const { TinyLM } = await import('/tinylm.js'); return await TinyLM.checkForUpdate(args[0]);", URL)
    assert result['updated'] and check['available'] is False
    assert 0 < result['downloadedBytes'] <= (len(changed) - 1) * CHUNK, 'the chunks stored before the tab closed are kept'
    assert load(browser)['sha256'] == v3['sha256']


def test_two_tabs_loading_at_once_download_once(server, browser, site, versions):
    site.publish(versions, 'v1')
    server.config(rate=60_000_000)
    browser.get(f'{server.url}/')
    start = f"import('/tinylm.js').then(({{ TinyLM }}) => TinyLM.load('{URL}')).then((lm) => lm.generate([1, 504], {{ temperature: 0, maxTokens: 1 }}))" \
            ".then((r) => { window.done = r.tokens; }, (e) => { window.done = e.name + ': ' + e.message; });"
    browser.driver.execute_script(start)
    tabs = [browser.driver.current_window_handle]
    browser.driver.switch_to.new_window('tab')
    browser.get(f'{server.url}/')
    browser.driver.execute_script(start)
    tabs.append(browser.driver.current_window_handle)
    answers = []
    for tab in tabs:
        browser.driver.switch_to.window(tab)
        answers.append(browser.wait_for('window.done', timeout=180))
    assert answers[0] == answers[1] and isinstance(answers[0], list), answers
    sent = sum(r['sent'] for r in requests_for(server, URL))
    assert sent == versions['v1'][1]['size'], 'one download for both tabs'


def test_quota_exceeded_mid_update_keeps_the_old_version(server, browser, site, versions):
    site.publish(versions, 'v1')
    browser.get(f'{server.url}/')
    load(browser)
    site.publish(versions, 'v3')
    with pytest.raises(JSError) as failure:
        browser.run("""
            const { TinyLM, modelStore } = await import('/tinylm.js');
            modelStore.testHooks.failWrites = 'QuotaExceededError';  // every IndexedDB write throws
            try { await TinyLM.update(args[0]); } finally { modelStore.testHooks.failWrites = null; }
        """, URL)
    assert failure.value.name == 'QuotaExceededError', failure.value
    assert load(browser)['sha256'] == versions['v1'][1]['sha256']
    result = browser.run("const { TinyLM } = await import('/tinylm.js'); return await TinyLM.update(args[0]);", URL)
    assert result['updated'] and load(browser)['sha256'] == versions['v3'][1]['sha256']


def test_evicted_store_downloads_cleanly_again(server, browser, site, versions):
    site.publish(versions, 'v1')
    browser.get(f'{server.url}/')
    load(browser)
    # The browser evicts the origin's data: the whole database goes (the worker's connection closes).
    browser.run("""
        window.lm.terminate(); window.lm = null;
        const { modelStore } = await import('/tinylm.js');
        modelStore.db?.close(); modelStore.db = null;
        await new Promise((resolve, reject) => { const r = indexedDB.deleteDatabase('tinylm-models'); r.onsuccess = resolve; r.onerror = () => reject(r.error); r.onblocked = () => reject(new Error('blocked')); });
    """)
    before = len(requests_for(server, URL))
    loaded = load(browser)
    assert loaded['downloaded'] is True and loaded['verified'] is True
    assert sum(r['sent'] for r in requests_for(server, URL)[before:]) == versions['v1'][1]['size']
    [record] = stored(browser)['records']
    assert record['complete'] and record['version'] == 'v1'


# --- 4. the app's storage page ----------------------------------------------------------------

def test_app_storage_lists_versions_and_applies_an_update(server, browser, site, versions):
    site.publish(versions, 'v1')
    browser.get(f'{server.url}/app/')
    browser.run("const { TinyLM } = await import('/tinylm.js'); (await TinyLM.load(args[0])).terminate();", URL)
    site.publish(versions, 'v2')
    browser.run("const { TinyLM } = await import('/tinylm.js'); return await TinyLM.checkForUpdate(args[0]);", URL)
    browser.driver.find_element('id', 'settings-open').click()
    item = f"#stored-models li[data-model$='{NAME}']"
    text = browser.wait_for(f"document.querySelector(\"{item}\")?.textContent", timeout=30)
    assert 'version v1' in text and 'verified' in text and 'Update to v2 (4.2 MB)' in text, text
    assert browser.driver.execute_script("return document.getElementById('storage-usage').dataset.persisted") in ('true', 'false')
    browser.driver.execute_script(f"[...document.querySelectorAll(\"{item} button\")].find((b) => b.textContent.startsWith('Update')).click();")
    text = browser.wait_for(f"(t => t && t.includes('version v2') && t)(document.querySelector(\"{item}\")?.textContent)", timeout=60)
    assert 'Update to' not in text
    browser.driver.execute_script(f"[...document.querySelectorAll(\"{item} button\")].find((b) => b.textContent === 'Delete').click();")
    browser.wait_for(f"!document.querySelector(\"{item}\")", timeout=30)
    assert stored(browser)['chunks'] == []
