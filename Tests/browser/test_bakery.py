"""The bakery example (web/examples/bakery/): a static site whose <tinylm-chat knowledge="…">
answers from the site's own pages, through the knowledge file `tinylm index` built from them,
and links the pages it used under the answer.

Retrieval is checked exactly: the passages the box used are the ones the same knowledge file
gives for the question outside the browser (Tests/browser/knowledge_search.mjs, Node). The
generated text is checked loosely (a 135M model)."""

import glob
import json
import os
import re
import subprocess

from conftest import ROOT

SITE = os.path.join(ROOT, 'web/examples/bakery')
KNOWLEDGE = os.path.join(SITE, 'site-knowledge.bin')
BOX = "document.querySelector('tinylm-chat')"


def reference_search(knowledge_file, question, k=3):
    output = subprocess.run(['node', os.path.join(ROOT, 'Tests/browser/knowledge_search.mjs'), knowledge_file, str(k), question],
                            cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return json.loads(output)[0]


def pages_mentioning(word):
    return sorted(os.path.basename(page) for page in glob.glob(os.path.join(SITE, '*.html'))
                  if re.search(word, re.sub(r'<[^>]+>', ' ', open(page, encoding='utf-8').read())))


def open_bakery(browser, server):
    """Opens the home page; the visitor clicks Load once (the chat model may be stored already,
    the embedding model is not); resolves when the box is ready."""
    browser.get(f'{server.url}/examples/bakery/index.html')
    browser.wait_for(f"{BOX}.ready || !{BOX}.shadowRoot.querySelector('.load').hidden", timeout=120)
    if not browser.driver.execute_script(f'return {BOX}.ready'):
        browser.driver.execute_script(f"{BOX}.shadowRoot.querySelector('.load').click()")
    browser.wait_for(f'{BOX}.ready', timeout=240)


def test_bakery_answers_saturday_from_its_hours_page(warm):
    server, browser = warm
    question = 'Are you open on Saturday?'
    assert pages_mentioning('Saturday') == ['hours.html']  # the answer is on one page only

    open_bakery(browser, server)
    status = browser.driver.execute_script(f"return {BOX}.shadowRoot.querySelector('.text').textContent")
    assert status.startswith('Ready') and "this site's pages (6)" in status, status
    browser.driver.execute_script(f"{BOX}.setAttribute('seed', '7')")
    answer = browser.run(f"""
        const box = {BOX};
        const answered = new Promise((resolve) => box.addEventListener('tinylm-answer', (e) => resolve(e.detail), {{ once: true }}));
        box.shadowRoot.querySelector('textarea').value = args[0];
        box.shadowRoot.querySelector('.send').click();
        return await answered;
    """, question)

    expected = reference_search(KNOWLEDGE, question)
    used = [{key: source[key] for key in ('documentId', 'chunk', 'score', 'url', 'title', 'heading')} for source in answer['sources']]
    assert used == expected, (used, expected)
    assert used[0]['documentId'] == 'hours.html' and used[0]['heading'] == 'Opening hours › Weekends', used[0]

    # Under the answer: one link per page used, best first, resolved against the knowledge file's URL.
    links = browser.driver.execute_script(
        f"return [...{BOX}.shadowRoot.querySelectorAll('.log li.sources a')].map((a) => [a.href, a.textContent])")
    pages = list(dict.fromkeys(source['documentId'] for source in used))
    assert [href for href, _ in links] == [f'{server.url}/examples/bakery/{page}' for page in pages], links
    assert links[0][1] == 'Opening hours — Linden Street Bakery'
    items = browser.driver.execute_script(f"return [...{BOX}.shadowRoot.querySelectorAll('.log li')].map((li) => li.className)")
    assert items[:3] == ['user', 'assistant', 'sources'], items

    assert answer['text'].strip() and 'Error' not in answer['text'], answer['text']
    browser.screenshot('bakery-answer.png')

    # The link opens the page the answer came from.
    browser.driver.execute_script(f"{BOX}.shadowRoot.querySelector('.log li.sources a').click()")
    browser.wait_for("location.pathname === '/examples/bakery/hours.html' && document.readyState === 'complete'", timeout=30)
    assert browser.driver.find_element('tag name', 'h1').text == 'Opening hours'
