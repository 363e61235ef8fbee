"""The assistant's Documents view (web/app/documents.js): the user adds files (file picker and
drag and drop), they are indexed in the browser with progress and kept in IndexedDB; after a
reload with the server stopped they are still listed, answers draw on them and show them as
sources; a deleted document never comes back. Nothing is sent to the server.

Retrieval is checked exactly: the passages an answer used are the ones the app's own knowledge,
exported as a knowledge file, gives for the question under Node (knowledge_search.mjs)."""

import base64

from selenium.webdriver.common.keys import Keys

from test_bakery import reference_search

GARDEN = """# Garden notes

## The shed

The key to the garden shed hangs on the hook behind the kitchen door. The lawnmower takes petrol, not diesel.

## Watering

Water the tomatoes every evening in July and August, and the roses once a week.
"""
PANCAKES = """Grandma's pancakes

Mix 250 g of flour, two eggs and half a litre of milk, and let the batter rest for an hour.
Fry them in butter, one ladle at a time.
"""
QUESTION = 'Where is the key to the garden shed?'
LISTED = "[...document.querySelectorAll('#document-list li[data-id]')].map((li) => li.dataset.id)"


def ask(browser, question):
    driver = browser.driver
    before = driver.execute_script("return document.querySelectorAll('.message.assistant').length")
    field = driver.find_element('id', 'input')
    field.send_keys(question)
    field.send_keys(Keys.ENTER)
    browser.wait_for(f"document.querySelectorAll('.message.assistant').length > {before}")
    browser.wait_for("document.body.dataset.state === 'ready' && !document.querySelector('.message.assistant.streaming')", timeout=240)
    return driver.execute_script('return tinylmApp.conversation.messages.at(-1)')


def test_documents_are_indexed_kept_offline_cited_and_deleted(server, browser, tmp_path):
    driver = browser.driver
    browser.get(f'{server.url}/app/')
    browser.wait_for("document.body.dataset.state === 'absent'")
    driver.find_element('id', 'download').click()
    browser.wait_for("document.body.dataset.state === 'ready'", timeout=240)
    driver.execute_script('tinylmApp.settings.maxTokens = 40; tinylmApp.settings.seed = 3;')
    assert driver.find_element('id', 'use-documents-label').is_displayed() is False  # no documents yet

    # Add one file with the file picker, one by dropping it on the view.
    garden = tmp_path / 'garden-notes.md'
    garden.write_text(GARDEN)
    driver.find_element('id', 'documents-open').click()
    driver.execute_script("""
        window.progressSeen = [];
        const text = document.getElementById('documents-progress-text');
        new MutationObserver(() => window.progressSeen.push(text.textContent)).observe(text, { childList: true, characterData: true, subtree: true });
    """)
    driver.find_element('id', 'document-files').send_keys(str(garden))
    browser.wait_for("document.getElementById('documents-status').textContent.startsWith('Added')", timeout=240)
    seen = driver.execute_script('return window.progressSeen')
    assert any(text.startswith('Downloading the embedding model (once): ') for text in seen), seen  # first use: 46 MB
    assert 'Indexing 1 of 1: 2 / 2 passages' in seen, seen
    browser.run("""
        const transfer = new DataTransfer();
        transfer.items.add(new File([args[0]], 'pancakes.txt', { type: 'text/plain' }));
        document.getElementById('drop-zone').dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
    """, PANCAKES)
    browser.wait_for(f"{LISTED}.length === 2", timeout=120)
    listed = driver.execute_script("return [...document.querySelectorAll('#document-list li[data-id]')].map((li) => li.textContent)")
    assert listed[0].startswith(f'Garden notes — {len(GARDEN.encode())} B, 2 passages'), listed
    assert listed[1].startswith(f"pancakes.txt — {len(PANCAKES.encode())} B, 1 passage"), listed
    browser.screenshot('app-documents.png')
    driver.execute_script("document.getElementById('documents').close()")

    # Nothing left the device: the server saw only GETs and HEADs of the app and the models.
    requests = server.log()
    assert all(r['method'] in ('GET', 'HEAD') for r in requests), requests
    assert not [r for r in requests if 'garden' in r['path'] or 'pancake' in r['path']], requests

    # Reload with the server stopped: the documents are still there, and answers cite them.
    browser.wait_for('navigator.serviceWorker.controller !== null', timeout=60)
    browser.run('await navigator.serviceWorker.ready; return true;')
    server.stop()
    browser.get(f'{server.url}/app/')
    browser.wait_for("document.body.dataset.state === 'ready'", timeout=180)
    assert driver.execute_script(f'return {LISTED}') == ['garden-notes.md', 'pancakes.txt']
    assert driver.find_element('id', 'use-documents').is_selected()
    driver.execute_script('tinylmApp.settings.maxTokens = 40; tinylmApp.settings.seed = 3;')
    answer = ask(browser, QUESTION)
    assert answer['content'].strip() and 'Error' not in answer.get('meta', ''), answer

    exported = browser.run("""
        const bytes = await (await tinylmApp.documents.knowledge()).export();
        let binary = '';
        for (const byte of bytes) binary += String.fromCharCode(byte);
        return btoa(binary);
    """)
    knowledge_file = tmp_path / 'documents.bin'
    knowledge_file.write_bytes(base64.b64decode(exported))
    expected = reference_search(str(knowledge_file), QUESTION)
    used = [{key: source[key] for key in ('documentId', 'chunk', 'score', 'url', 'title', 'heading')} for source in answer['sources']]
    assert used == expected, (used, expected)
    assert used[0]['documentId'] == 'garden-notes.md' and used[0]['heading'] == 'The shed', used[0]
    shown = driver.execute_script("""
        const all = document.querySelectorAll('.message.assistant');
        return [...all[all.length - 1].querySelectorAll('.sources details')].map((d) => [d.dataset.documentId, Number(d.dataset.chunk), d.querySelector('summary').textContent]);
    """)
    assert [[d, c] for d, c, _ in shown] == [[s['documentId'], s['chunk']] for s in used], shown
    assert shown[0][2] == '[1] Garden notes › The shed', shown
    browser.screenshot('app-documents-answer.png')

    # Delete the garden notes: gone from the list, from search, and after a reload.
    driver.find_element('id', 'documents-open').click()
    driver.execute_script("document.querySelector('#document-list li[data-id=\"garden-notes.md\"] button.delete-document').click()")
    browser.wait_for(f"{LISTED}.length === 1", timeout=60)
    driver.execute_script("document.getElementById('documents').close()")
    browser.get(f'{server.url}/app/')
    browser.wait_for("document.body.dataset.state === 'ready'", timeout=180)
    assert driver.execute_script(f'return {LISTED}') == ['pancakes.txt']
    hits = browser.run("return await (await tinylmApp.documents.knowledge()).search(args[0], { k: 10 });", QUESTION)
    assert [hit['documentId'] for hit in hits] == ['pancakes.txt'], hits
