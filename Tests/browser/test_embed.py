"""Static-site embedding (web/examples/): the <tinylm-chat> element answers, and the one-shot
generate() example streams text. Shares the warm browser, so the model is already stored and
the element opens it without asking."""


def test_chat_box_element_answers(warm):
    server, browser = warm
    browser.get(f'{server.url}/examples/chat-box.html')
    browser.wait_for("document.querySelector('tinylm-chat').ready", timeout=120)
    status = browser.driver.execute_script(
        "return document.querySelector('tinylm-chat').shadowRoot.querySelector('.text').textContent")
    assert status.startswith('Ready'), status
    answer = browser.run("""
        const box = document.querySelector('tinylm-chat');
        box.setAttribute('max-tokens', '24');
        const input = box.shadowRoot.querySelector('textarea');
        input.value = 'Do you sell bread?';
        const answered = new Promise((resolve) => box.addEventListener('tinylm-answer', (e) => resolve(e.detail.text), { once: true }));
        box.shadowRoot.querySelector('.send').click();
        return await answered;
    """)
    assert answer.strip()
    items = browser.driver.execute_script(
        "return [...document.querySelector('tinylm-chat').shadowRoot.querySelectorAll('.log li')].map((li) => [li.className, li.textContent])")
    assert items[0] == ['user', 'Do you sell bread?']
    assert items[1][0] == 'assistant' and items[1][1] == answer
    browser.screenshot('embed-chat-box.png')


def test_chat_box_shows_markup_as_text(warm):
    server, browser = warm
    browser.get(f'{server.url}/examples/chat-box.html')
    browser.wait_for("document.querySelector('tinylm-chat').ready", timeout=120)
    injected = browser.run("""
        const box = document.querySelector('tinylm-chat');
        box.setAttribute('max-tokens', '2');
        await box.ask('<img src=x onerror="window.pwned=1"><b>bold</b>');
        const user = box.shadowRoot.querySelector('.log li.user');
        return { html: user.innerHTML, images: box.shadowRoot.querySelectorAll('img').length, pwned: !!window.pwned };
    """)
    assert injected['images'] == 0 and not injected['pwned']
    assert injected['html'].startswith('&lt;img')


def test_one_shot_generate_example(warm):
    server, browser = warm
    browser.get(f'{server.url}/examples/generate.html')
    browser.driver.find_element('id', 'run').click()
    browser.wait_for('document.body.dataset.done', timeout=180)
    assert browser.driver.execute_script('return document.body.dataset.done') in ('length', 'eog', 'stop')
    output = browser.driver.find_element('id', 'output').text
    assert output.startswith('Fresh sourdough bread, baked every morning, is') and len(output) > 50
    browser.screenshot('embed-generate.png')
