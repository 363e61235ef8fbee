"""<tinylm-chat> (web/tinylm-chat.js) beyond answering: a random seed per answer unless the page
sets one, the sampling in use shown, and an answer cut by max-tokens that says so and continues
in the same bubble."""

OPEN_BOX = "document.querySelector('tinylm-chat').ready"


def ask(browser, question):
    return browser.run("""
        const [question] = args;
        const box = document.querySelector('tinylm-chat');
        const answered = new Promise((resolve) => box.addEventListener('tinylm-answer', (e) => resolve(e.detail), { once: true }));
        await box.ask(question);
        return await answered;
    """, question)


def test_each_answer_gets_a_random_seed_unless_the_page_sets_one(warm):
    server, browser = warm
    browser.get(f'{server.url}/examples/chat-box.html')
    browser.wait_for(OPEN_BOX, timeout=120)
    browser.driver.execute_script("document.querySelector('tinylm-chat').setAttribute('max-tokens', '8')")
    first = ask(browser, 'Do you sell bread?')
    browser.get(f'{server.url}/examples/chat-box.html')  # a new visitor: a fresh page and conversation
    browser.wait_for(OPEN_BOX, timeout=120)
    browser.driver.execute_script("document.querySelector('tinylm-chat').setAttribute('max-tokens', '8')")
    second = ask(browser, 'Do you sell bread?')
    assert first['sampling']['seed'] != second['sampling']['seed']

    browser.driver.execute_script("const box = document.querySelector('tinylm-chat'); box.setAttribute('seed', '1234'); box.setAttribute('temperature', '1.2');")
    fixed = ask(browser, 'Do you sell cakes?')
    assert fixed['sampling']['seed'] == 1234 and fixed['sampling']['temperature'] == 1.2
    line = browser.driver.execute_script("return document.querySelector('tinylm-chat').shadowRoot.querySelector('.sampling').textContent")
    assert 'temperature' in line and 'top-p' in line, line


def test_length_limit_says_so_and_continue_extends_the_same_answer(warm):
    server, browser = warm
    browser.get(f'{server.url}/examples/chat-box.html')
    browser.wait_for(OPEN_BOX, timeout=120)
    browser.driver.execute_script("const box = document.querySelector('tinylm-chat'); box.setAttribute('max-tokens', '6'); box.setAttribute('seed', '5');")
    cut = ask(browser, 'Tell me about your sourdough bread.')
    assert cut['reason'] == 'length'
    notice = browser.driver.execute_script("return document.querySelector('tinylm-chat').shadowRoot.querySelector('li.notice')?.textContent")
    assert notice and 'length limit' in notice and 'Continue' in notice, notice
    browser.screenshot('chat-box-length-limit.png')
    continued = browser.run("""
        const box = document.querySelector('tinylm-chat');
        const answered = new Promise((resolve) => box.addEventListener('tinylm-answer', (e) => resolve(e.detail), { once: true }));
        box.shadowRoot.querySelector('li.notice button.continue').click();
        return await answered;
    """)
    assert continued['text'].startswith(cut['text']) and len(continued['text']) > len(cut['text']), (cut, continued)
    items = browser.driver.execute_script(
        "return [...document.querySelector('tinylm-chat').shadowRoot.querySelectorAll('.log li')].map((li) => li.className)")
    assert items.count('assistant') == 1, items  # the same bubble grew
    messages = browser.driver.execute_script("return document.querySelector('tinylm-chat').messages")
    assert [m['role'] for m in messages] == ['user', 'assistant']
