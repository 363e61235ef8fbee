"""Conversations that resume: a chat's KV cache saved after a turn (lm.saveSession) and restored
after a page reload (lm.restoreSession) answers the next question evaluating only that question,
with the same text as without the reload; a damaged or mismatched snapshot is ignored (and
deleted) and the chat evaluates its history as usual. The PWA saves after each answer and
restores when it reopens a conversation."""

import pytest

from conftest import LOAD_MODEL
from test_app import ask

QUESTIONS = ['What is the capital of France?', 'Name a famous museum there.', 'What is in it?']
NEXT = 'When was it built?'

# Three answered turns, saved after each one; then the next question answered in the same page
# (not saved): the reference the reloaded page must reproduce.
CONVERSE = """
const [questions, next] = args;
const messages = [{ role: 'system', content: 'You are a helpful assistant. Answer briefly.' }];
const saves = [];
for (const [i, question] of questions.entries()) {
  messages.push({ role: 'user', content: question });
  const result = await window.lm.chat(messages, { maxTokens: 40, seed: 11 + i });
  messages.push({ role: 'assistant', content: result.text });
  saves.push(await window.lm.saveSession());
}
const reference = await window.lm.chat([...messages, { role: 'user', content: next }], { maxTokens: 24, seed: 5 });
return { messages, saves, reference: { text: reference.text, usage: reference.usage } };
"""

RESUME = """
const [messages, next] = args;
const restore = await window.lm.restoreSession(messages);
const answer = await window.lm.chat([...messages, { role: 'user', content: next }], { maxTokens: 24, seed: 5 });
return { restore, text: answer.text, usage: answer.usage, timings: answer.timings };
"""


def reload_page(server, browser):
    browser.get(f'{server.url}/')
    browser.run(LOAD_MODEL)


def clear_snapshots(browser):
    browser.run("""
        const { SessionSnapshotStore } = await import('/session-snapshots.js');
        await new SessionSnapshotStore().clear();
        return true;
    """)


def test_a_reloaded_conversation_answers_without_prefill(warm):
    server, browser = warm
    clear_snapshots(browser)
    first = browser.run(CONVERSE, QUESTIONS, NEXT)
    saves = first['saves']
    assert all(save['saved'] for save in saves), saves
    held = saves[-1]['tokens']
    assert saves[-1]['bytes'] > held * 20000  # f16 keys and values of 30 layers
    # Each turn's snapshot replaced the previous one of the conversation.
    assert browser.run("""
        const { SessionSnapshotStore } = await import('/session-snapshots.js');
        return (await new SessionSnapshotStore().list()).length;
    """) == 1

    reload_page(server, browser)
    resumed = browser.run(RESUME, first['messages'], NEXT)
    assert resumed['restore']['restored'] is True, resumed['restore']
    assert resumed['restore']['tokens'] == held
    assert resumed['usage']['reusedTokens'] == held
    # Only the question and the template's glue were evaluated, as in the page that never reloaded.
    evaluated = resumed['usage']['promptTokens'] - resumed['usage']['reusedTokens']
    assert evaluated == first['reference']['usage']['promptTokens'] - first['reference']['usage']['reusedTokens']
    assert evaluated < 20
    assert resumed['text'] == first['reference']['text']

    # Without the snapshot the same question evaluates the whole history (re-tokenized: its
    # answers may split into other tokens than were sampled, so the text may differ).
    clear_snapshots(browser)
    reload_page(server, browser)
    cold = browser.run(RESUME, first['messages'], NEXT)
    assert cold['restore'] == {'restored': False, 'reason': 'no snapshot of this conversation'}
    assert cold['usage']['reusedTokens'] == 0
    assert cold['usage']['promptTokens'] > held


def test_damaged_and_mismatched_snapshots_are_ignored(warm):
    server, browser = warm
    clear_snapshots(browser)
    first = browser.run(CONVERSE, QUESTIONS[:1], NEXT)
    messages = first['messages']
    # Another template: not this conversation's snapshot.
    other = browser.run("""
        const [messages] = args;
        return window.lm.restoreSession(messages, { template: "{% for m in messages %}{{ m.content }}{% endfor %}" });
    """, messages)
    assert other['restored'] is False
    # Damaged bytes: refused by the core, deleted, and the chat goes on without the cache.
    browser.run("""
        const db = await new Promise((resolve, reject) => {
          const request = indexedDB.open('tinylm-sessions');
          request.onsuccess = () => resolve(request.result);
          request.onerror = () => reject(request.error);
        });
        const transaction = db.transaction('bytes', 'readwrite');
        const store = transaction.objectStore('bytes');
        const keys = await new Promise((resolve) => { const r = store.getAllKeys(); r.onsuccess = () => resolve(r.result); });
        for (const key of keys) {
          const bytes = await new Promise((resolve) => { const r = store.get(key); r.onsuccess = () => resolve(r.result); });
          const view = new Uint8Array(bytes);
          view[view.length >> 1] ^= 0xff;
          store.put(bytes, key);
        }
        await new Promise((resolve) => { transaction.oncomplete = resolve; });
        db.close();
        return keys.length;
    """)
    reload_page(server, browser)
    damaged = browser.run(RESUME, messages, NEXT)
    assert damaged['restore']['restored'] is False
    assert damaged['restore']['reason'].startswith('InvalidSnapshotError'), damaged['restore']
    assert damaged['usage']['reusedTokens'] == 0
    assert browser.run("""
        const { SessionSnapshotStore } = await import('/session-snapshots.js');
        return (await new SessionSnapshotStore().list()).length;
    """) == 0


@pytest.mark.only_in('chromium', reason='the PWA wiring is the same JavaScript in every engine; the API tests above cover the engines')
def test_the_app_restores_the_conversation_after_a_reload(warm):
    server, browser = warm
    clear_snapshots(browser)
    browser.get(f'{server.url}/app/')
    browser.wait_for("document.body.dataset.state === 'ready'", timeout=180)
    browser.driver.execute_script("tinylmApp.settings.maxTokens = 24; tinylmApp.settings.seed = 9;")
    browser.driver.find_element('id', 'new-chat').click()
    for question in QUESTIONS[:2]:
        ask(browser, question)
        saved = browser.driver.execute_script('return tinylmApp.lastSave')
        assert saved['saved'] is True, saved
    browser.get(f'{server.url}/app/')
    browser.wait_for("document.body.dataset.state === 'ready' && tinylmApp.lastRestore", timeout=180)
    restore = browser.driver.execute_script('return tinylmApp.lastRestore')
    assert restore['restored'] is True, restore
    ask(browser, NEXT)
    usage = browser.driver.execute_script('return tinylmApp.lastAnswer.usage')
    assert usage['reusedTokens'] == restore['tokens'], usage
    assert usage['promptTokens'] - usage['reusedTokens'] < 20, usage
