"""The IndexedDB weight store (web/model-store.js) under a bad network and bad storage: resumed
downloads, corrupt chunks, a full disk, and two loaders racing for the same model. Each test
has a fresh browser profile (empty IndexedDB) and its own server with failure switches."""

import hashlib
import os

import pytest

from conftest import JSError, LOAD_MODEL, MODEL_PATH, MODEL_URL_PATH, ROOT, SAME_WITHOUT_SHARED_MEMORY

pytestmark = pytest.mark.not_in('webkit-sab', reason=SAME_WITHOUT_SHARED_MEMORY)

CHUNK = 4 * 1024 * 1024
SIZE = 98362432


@pytest.fixture(scope='module')
def file_sha256():
    digest = hashlib.sha256()
    with open(os.path.join(ROOT, MODEL_PATH), 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def stored_records(browser):
    return browser.run("const { modelStore } = await import('/tinylm.js'); return await modelStore.list();")


def test_cut_download_resumes_with_range(server, browser, file_sha256):
    # The first model response is cut after 30 MB; the retry must ask for the rest only.
    # Throttled so the page keeps up with the network: what arrived before the cut gets stored.
    server.config(cutAfter=30_000_000, cutCount=1, rate=60_000_000)
    browser.get(f'{server.url}/')
    loaded = browser.run(LOAD_MODEL)
    requests = server.model_requests()
    assert [r['status'] for r in requests] == [200, 206], requests
    assert requests[0]['sent'] == 30_000_000
    # Only whole chunks are kept, and bytes still queued in the stream when the connection broke
    # may be lost: the resumption starts at a chunk boundary somewhere before the cut.
    resumed_at = int(requests[1]['range'].removeprefix('bytes=').removesuffix('-'))
    assert resumed_at % CHUNK == 0 and 0 < resumed_at <= 30_000_000, requests[1]
    assert requests[1]['ifRange'], 'a resumed request must carry If-Range'
    assert requests[1]['sent'] == SIZE - resumed_at
    assert loaded['sha256'] == file_sha256
    [record] = stored_records(browser)
    assert record['complete'] and record['size'] == SIZE and record['sha256'] == file_sha256
    assert browser.run("return (await window.lm.generate([504, 3575, 282, 4649, 314], { temperature: 0, maxTokens: 1 })).tokens;") == [7042]


def test_partial_download_survives_a_reload_and_resumes(server, browser, file_sha256):
    # Every response is cut after 10 MB: each attempt stores whole 4 MiB chunks, then load() gives up.
    # (WebKit drops the last megabytes it had buffered when a connection breaks: with a 5 MB cut
    # the page never saw a whole chunk. Throttled, so that the page keeps up with the network.)
    server.config(cutAfter=10_000_000, rate=60_000_000)
    browser.get(f'{server.url}/')
    with pytest.raises(JSError) as failure:
        browser.run(LOAD_MODEL)
    assert failure.value.name == 'NetworkError'
    [partial] = stored_records(browser)
    assert partial['complete'] is False and partial['received'] > 0 and partial['received'] % CHUNK == 0
    received = partial['received']

    # A new page (the tab was reloaded) resumes from what is stored.
    server.config(cutAfter=None)
    before = len(server.model_requests())
    browser.driver.refresh()
    loaded = browser.run(LOAD_MODEL)
    resumed = server.model_requests()[before:]
    assert resumed[0]['range'] == f'bytes={received}-' and resumed[0]['status'] == 206, resumed
    assert loaded['sha256'] == file_sha256


def test_corrupt_chunk_is_detected_and_fetched_again(server, browser):
    browser.get(f'{server.url}/')
    browser.run(LOAD_MODEL)
    tamper = """
        const [index] = args;
        const db = await new Promise((resolve, reject) => {
          const request = indexedDB.open('tinylm-models'); request.onsuccess = () => resolve(request.result); request.onerror = () => reject(request.error);
        });
        const id = new URL('""" + MODEL_URL_PATH + """', location.href).href;
        const transaction = db.transaction(['models', 'chunks'], 'readwrite');
        // Committed before the test goes on: a page reload right after could abort it.
        const committed = new Promise((resolve, reject) => { transaction.oncomplete = resolve; transaction.onabort = () => reject(transaction.error); });
        // Chunks are stored under their SHA-256: the record says which one is chunk `index`.
        const record = await new Promise((resolve) => { const r = transaction.objectStore('models').get(id); r.onsuccess = () => resolve(r.result); });
        const key = record.chunkHashes[index];
        const store = transaction.objectStore('chunks');
        const data = await new Promise((resolve) => { const r = store.get(key); r.onsuccess = () => resolve(r.result); });
        const bytes = new Uint8Array(data); bytes[1234] ^= 0xff;
        await new Promise((resolve, reject) => { const r = store.put(bytes.buffer, key); r.onsuccess = resolve; r.onerror = () => reject(r.error); });
        await committed;
        db.close();
        return true;
    """
    browser.run(tamper, 3)

    # Reload: the per-chunk hash catches it, and that chunk alone is fetched again (its hash is
    # known from the first download) and checked before it is stored; the model loads.
    browser.driver.refresh()
    before = len(server.model_requests())
    loaded = browser.run(LOAD_MODEL)
    assert loaded['refetched'] is True
    again = server.model_requests()[before:]
    assert [(r['status'], r['range'], r['sent']) for r in again] == [(206, f'bytes={3 * CHUNK}-{4 * CHUNK - 1}', CHUNK)], again
    assert browser.run("return window.progress.some((p) => p.refetch);")

    # Corrupt again, with the server gone: the error says what happened.
    browser.run(tamper, 7)
    server.stop()
    with pytest.raises(JSError) as failure:
        # The page's worker (engine already compiled) loads again: the server is not needed for that.
        browser.run(f"await window.lm.load('{MODEL_URL_PATH}');")
    assert failure.value.name == 'IntegrityError'
    assert 'chunk 7' in failure.value.message and 'fetching it again failed' in failure.value.message


def test_quota_failure_says_how_much_space_is_needed(server, browser):
    browser.get(f'{server.url}/')
    with pytest.raises(JSError) as failure:
        browser.run(f"""
            const {{ TinyLM }} = await import('/tinylm.js');
            const lm = new TinyLM();
            await lm.testHook('failWrites', 'QuotaExceededError');  // every IndexedDB write throws
            try {{ await lm.load('{MODEL_URL_PATH}'); }} finally {{ lm.terminate(); }}
        """)
    assert failure.value.name == 'QuotaExceededError'
    assert '98.4 MB' in failure.value.message, failure.value.message
    assert all(not r['complete'] for r in stored_records(browser))


def test_two_loaders_share_one_download(server, browser):
    # Two workers (like two tabs) load the same model at once: a Web Lock makes the second wait
    # and then read what the first stored; nothing is downloaded twice.
    browser.get(f'{server.url}/')
    results = browser.run(f"""
        const {{ TinyLM }} = await import('/tinylm.js');
        const [a, b] = await Promise.all([TinyLM.load('{MODEL_URL_PATH}'), TinyLM.load('{MODEL_URL_PATH}')]);
        const out = [a.loaded, b.loaded];
        a.terminate(); b.terminate();
        return out;
    """)
    assert sorted(r['downloaded'] for r in results) == [False, True]
    assert results[0]['sha256'] == results[1]['sha256']
    assert len([r for r in server.model_requests() if r['status'] in (200, 206)]) == 1
