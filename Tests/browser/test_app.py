"""The assistant (web/app/): first visit downloads the model with visible progress and stores it;
a reload with the server stopped still opens the app, restores the conversation and answers
(service worker + IndexedDB)."""

import os
import time

import pytest
from selenium.webdriver.common.keys import Keys

from conftest import MODEL_PATH, MODEL_URL_PATH, ROOT, StaticServer

SMOLLM2_SHA256 = 'b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53'


def ask(browser, question):
    """Types a question, waits for the streamed answer to finish, returns its text."""
    driver = browser.driver
    before = driver.execute_script("return document.querySelectorAll('.message.assistant').length")
    field = driver.find_element('id', 'input')
    field.send_keys(question)
    field.send_keys(Keys.ENTER)  # (a typed '\n' is the Enter key in chromedriver only; geckodriver types a newline)
    browser.wait_for(f"document.querySelectorAll('.message.assistant').length > {before}")
    browser.wait_for("document.body.dataset.state === 'ready'", timeout=180)
    return driver.execute_script(
        "const all = document.querySelectorAll('.message.assistant'); return all[all.length - 1].textContent")


def test_first_visit_downloads_with_progress_then_works_offline(server, browser):
    # Throttled so the progress bar is visible for a few seconds (and in the screenshot).
    server.config(rate=30_000_000)
    browser.get(f'{server.url}/app/')
    browser.wait_for("document.body.dataset.state === 'absent'")
    browser.driver.execute_script('tinylmApp.settings.maxTokens = 40; tinylmApp.settings.seed = 1;')
    browser.driver.find_element('id', 'download').click()
    browser.wait_for("document.body.dataset.state === 'downloading' && document.getElementById('progress-text').textContent.includes('/s')")
    progress_text = browser.driver.find_element('id', 'progress-text').text
    assert ' / 98.4 MB' in progress_text, progress_text
    browser.screenshot('app-first-load-progress.png')
    browser.wait_for("document.body.dataset.state === 'ready'", timeout=180)
    server.config(rate=None)

    stored = browser.run("const { modelStore } = await import('/tinylm.js'); return await modelStore.list();")
    assert len(stored) == 1
    assert stored[0]['complete'] is True
    assert stored[0]['size'] == 98362432
    assert stored[0]['sha256'] == SMOLLM2_SHA256
    assert stored[0]['url'].endswith(MODEL_URL_PATH)

    answer = ask(browser, 'What is the capital of France?')
    assert answer.strip(), 'empty answer'
    browser.screenshot('app-answered.png')

    # Stop ends a long answer at once; what was streamed so far is kept.
    browser.driver.execute_script('tinylmApp.settings.maxTokens = 1000;')
    field = browser.driver.find_element('id', 'input')
    field.send_keys('Write a long story about a dragon.', Keys.ENTER)
    browser.wait_for("document.body.dataset.state === 'generating' && document.querySelector('.message.assistant.streaming').textContent.length > 10")
    browser.driver.find_element('id', 'stop').click()
    browser.wait_for("document.body.dataset.state === 'ready'", timeout=10)
    meta = browser.driver.execute_script("const all = document.querySelectorAll('.message.assistant .meta'); return all[all.length - 1].textContent")
    assert meta == 'stopped'
    browser.driver.execute_script('tinylmApp.settings.maxTokens = 40;')

    # Settings: sampling and storage (the stored model is listed with its size).
    browser.driver.find_element('id', 'settings-open').click()
    browser.wait_for("document.getElementById('stored-models').textContent.includes('98.4 MB')")
    # Engines without navigator.storage (WebKitGTK) cannot say how much space the site may use.
    storage_line = browser.driver.find_element('id', 'storage-usage').text
    assert storage_line.startswith('Stored files: 98.4 MB.') and '?' not in storage_line, storage_line
    browser.screenshot('app-settings.png')
    browser.driver.execute_script("document.getElementById('settings').close()")

    # The service worker must control the page before we take the network away.
    browser.wait_for('navigator.serviceWorker.controller !== null', timeout=60)
    browser.run('await navigator.serviceWorker.ready; return true;')

    server.stop()
    # The user opens the app again (a navigation: Firefox's WebDriver refresh is a hard reload,
    # which bypasses service workers).
    browser.get(f'{server.url}/app/')
    browser.wait_for("document.body.dataset.state === 'ready'", timeout=120)
    restored = browser.driver.execute_script("return document.querySelectorAll('.message').length")
    assert restored >= 2, 'the conversation was not restored from IndexedDB'
    browser.driver.execute_script('tinylmApp.settings.maxTokens = 24;')
    answer = ask(browser, 'Say hello.')
    assert answer.strip(), 'no answer offline'
    assert 'Error' not in answer
    browser.screenshot('app-offline.png')

    # Phone width: the same conversation, one column.
    browser.driver.set_window_size(390, 844)
    time.sleep(0.5)  # the sidebar slides out of view when the layout switches to one column
    browser.screenshot('app-phone.png')


@pytest.mark.only_in('chromium', reason='a second page of the app over the same API and store; the assistant '
                                          'test covers the app in every engine')
def test_ai_notes_turn_a_sentence_into_a_stored_note(server, browser):
    """The AI notes page: a sentence becomes a schema-valid note, saved in IndexedDB and listed
    again after a reload. A date only when the text names one (never an invented one); tags,
    and action items when the text asks for something."""
    browser.get(f'{server.url}/app/notes.html')
    browser.wait_for("document.getElementById('notes-status').textContent === 'Ready'", timeout=180)
    notes = []
    for count, sentence in enumerate(['Buy washers and call the plumber about the leaking kitchen sink',
                                      'Call the plumber on 2026-12-04 about the kitchen sink and buy washers'], start=1):
        browser.run("document.getElementById('note-input').value = args[0]; document.getElementById('note-make').click();", sentence)
        browser.wait_for(f"document.querySelectorAll('#notes .note').length === {count}", timeout=180)
        notes.append(browser.run("""
            const all = await window.notesStore.all();
            return all.sort((a, b) => b.createdAt - a.createdAt)[0];
        """))
    undated, dated = notes
    assert undated['date'] is None, undated
    assert dated['date'] == '2026-12-04', dated
    assert undated['actionItems'] == ['Buy washers', 'Call the plumber about the leaking kitchen sink'], undated
    assert dated['actionItems'] == ['Call the plumber on 2026-12-04 about the kitchen sink', 'Buy washers'], dated
    for note in notes:
        assert note['title'].strip(), note
        assert 1 <= len(note['tags']) <= 3 and len(set(note['tags'])) == len(note['tags']), note
        assert all(tag in note['source'].lower().split() for tag in note['tags']), note
    browser.get(f'{server.url}/app/notes.html')
    browser.wait_for("document.querySelectorAll('#notes .note').length === 2", timeout=60)
    browser.screenshot('app-notes.png')


def test_app_offers_only_the_models_the_server_has(browser, tmp_path):
    # A server whose models/ holds SmolLM2 only (what scripts/start.sh fetches).
    (tmp_path / 'SmolLM2-135M-Instruct.Q4_1.gguf').symlink_to(os.path.join(ROOT, MODEL_PATH))
    server = StaticServer('--models-dir', str(tmp_path)).start()
    try:
        browser.get(f'{server.url}/app/')
        browser.wait_for("document.body.dataset.state === 'absent'")
        labels = browser.driver.execute_script("return [...document.getElementById('model').options].map((o) => o.textContent)")
        assert labels == ['SmolLM2 135M', 'Gemma 3 270M (not available)'], labels
        browser.driver.execute_script("const s = document.getElementById('model'); s.value = 'gemma3'; s.dispatchEvent(new Event('change'));")
        browser.wait_for("document.body.dataset.state === 'unavailable'")
        status = browser.driver.find_element('id', 'status-text').text
        assert 'not on this server' in status and 'scripts/fetch-models.sh gemma3' in status, status
        assert browser.driver.find_element('id', 'download').is_displayed() is False
        browser.screenshot('app-model-unavailable.png')
    finally:
        server.stop()


def test_app_turns_reuse_the_cache_and_settings_show_the_sampling(warm):
    server, browser = warm
    browser.get(f'{server.url}/app/')
    browser.wait_for("document.body.dataset.state === 'ready'", timeout=180)
    browser.driver.execute_script("tinylmApp.settings.maxTokens = 24; tinylmApp.settings.seed = 9;")
    browser.driver.find_element('id', 'new-chat').click()
    usages = []
    for question in ['What is bread made of?', 'And butter?', 'Which is older?']:
        ask(browser, question)
        usages.append(browser.driver.execute_script('return tinylmApp.lastAnswer.usage'))
    for previous, turn in zip(usages, usages[1:]):
        assert turn['reusedTokens'] == previous['promptTokens'] + previous['completionTokens'], usages

    # An answer cut by the length limit says so and offers Continue, which extends the same answer.
    browser.driver.execute_script('tinylmApp.settings.maxTokens = 4;')
    ask(browser, 'Describe a bakery in detail.')
    cut = browser.driver.execute_script('return { text: tinylmApp.conversation.messages.at(-1).content, usage: tinylmApp.lastAnswer.usage }')
    meta = browser.driver.execute_script("return [...document.querySelectorAll('.message.assistant .meta')].pop().textContent")
    assert 'reached the length limit' in meta and 'Continue' in meta, meta
    count = browser.driver.execute_script("return document.querySelectorAll('.message.assistant').length")
    browser.driver.execute_script("[...document.querySelectorAll('.message.assistant button.continue')].pop().click()")
    browser.wait_for(f"tinylmApp.conversation.messages.at(-1).content.length > {len(cut['text'])} && document.body.dataset.state === 'ready'", timeout=120)
    assert browser.driver.execute_script("return document.querySelectorAll('.message.assistant').length") == count
    continued = browser.driver.execute_script('return { text: tinylmApp.conversation.messages.at(-1).content, usage: tinylmApp.lastAnswer.usage }')
    assert continued['text'].startswith(cut['text']), (cut, continued)
    held = cut['usage']['promptTokens'] + cut['usage']['completionTokens']
    assert continued['usage']['promptTokens'] == held and continued['usage']['reusedTokens'] == held - 1, (cut, continued)

    browser.driver.find_element('id', 'settings-open').click()
    line = browser.driver.find_element('id', 'sampling-in-use').text
    recommended = browser.driver.execute_script('return tinylmApp.lm.loaded.sampling')
    temperature = recommended['temperature'] if recommended else 0.7
    assert line.startswith('In use: temperature ') and f'temperature {temperature}' in line and 'seed 9' in line, line
    browser.driver.execute_script("document.getElementById('settings').close()")
