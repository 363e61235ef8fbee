"""The site owner's path, followed literally: web/README.md's copy commands build a site in a
temporary folder, a page holds exactly its snippet, and a plain static server (Python's
http.server: no COOP/COEP headers, no Range requests) serves it. The chat box must load, answer,
and either run on several threads or say why not (`loaded.threadsError`). Two variants of the
page check that the reason is the true one when the service worker cannot isolate the page."""

import os
import re
import shutil
import subprocess
import sys
import tempfile

import pytest

from conftest import ROOT, Browser, free_port

README = os.path.join(ROOT, 'web', 'README.md')


def readme_blocks(heading):
    """The fenced code blocks of web/README.md's section `heading`, as (language, text)."""
    with open(README) as f:
        text = f.read()
    section = text.split(f'\n## {heading}\n', 1)[1].split('\n## ', 1)[0]
    return re.findall(r'```(\w*)\n(.*?)```', section, re.S)


def build_site(folder):
    """Runs the README's copy commands from the repository root with `site` set to `folder`."""
    commands = next(text for language, text in readme_blocks('Add a chat box to your site') if language == 'sh')
    lines = commands.strip().splitlines()
    assert lines[0].startswith('site='), 'the README block should start by naming the site folder'
    script = f'site={folder}\n' + '\n'.join(lines[1:])
    subprocess.run(['bash', '-euc', script], cwd=ROOT, check=True)


def snippet():
    return next(text for language, text in readme_blocks('Add a chat box to your site') if language == 'html')


class PlainServer:
    """python3 -m http.server: what a plain static host does, nothing more."""

    def __init__(self, folder):
        self.port = free_port()
        self.process = subprocess.Popen([sys.executable, '-m', 'http.server', str(self.port), '--bind', '127.0.0.1',
                                         '--directory', folder], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import time
        import urllib.request
        for _ in range(100):
            try:
                urllib.request.urlopen(f'{self.url}/', timeout=1).read()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError('http.server did not start')

    @property
    def url(self):
        return f'http://127.0.0.1:{self.port}'

    def stop(self):
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture(scope='module')
def site():
    folder = tempfile.mkdtemp(prefix='tinylm-site-')
    build_site(folder)
    assert os.path.isfile(os.path.join(folder, 'tinylm', 'tinylm.wasm')), 'the copied library has no engine module'
    assert not os.path.exists(os.path.join(folder, 'tinylm', 'models')), 'cp -r web copied a models folder or link'
    page = f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Bakery</title></head>\n<body>\n{snippet()}</body></html>\n'
    with open(os.path.join(folder, 'index.html'), 'w') as f:
        f.write(page)
    # The mistake the README warns about: the service worker loaded from /tinylm/, so its scope
    # does not cover the page.
    with open(os.path.join(folder, 'wrong-scope.html'), 'w') as f:
        f.write(page.replace('src="/coi-serviceworker.js"', 'src="/tinylm/coi-serviceworker.js"'))
    with open(os.path.join(folder, 'no-isolation.html'), 'w') as f:
        f.write(page.replace('<script src="/coi-serviceworker.js"></script>', ''))
    server = PlainServer(folder)
    yield server
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def fresh_browser():
    b = Browser()
    yield b
    b.quit()


def load_and_ask(browser):
    """Clicks Load model, asks one question, returns (answer, load result, crossOriginIsolated)."""
    try:
        browser.wait_for("document.querySelector('tinylm-chat')?.shadowRoot?.querySelector('.load')?.hidden === false", timeout=180)
    except TimeoutError:
        # What the box says instead (its status line and whether it is defined) names the stall.
        state = browser.driver.execute_script("""
            const box = document.querySelector('tinylm-chat');
            return { defined: !!customElements.get('tinylm-chat'), isolated: self.crossOriginIsolated,
                     text: box?.shadowRoot?.textContent?.slice(0, 400) ?? null,
                     controller: !!navigator.serviceWorker?.controller };""")
        raise AssertionError(f'the Load button never showed: {state}')
    browser.driver.execute_script("document.querySelector('tinylm-chat').shadowRoot.querySelector('.load').click()")
    browser.wait_for("document.querySelector('tinylm-chat').ready", timeout=240)
    answer = browser.run("""
        const box = document.querySelector('tinylm-chat');
        box.setAttribute('max-tokens', '24');
        return await box.ask('Do you sell rye bread?');
    """)
    loaded = browser.run("const l = document.querySelector('tinylm-chat').lm.loaded; return { threads: l.threads, threadsError: l.threadsError };")
    return answer, loaded, browser.driver.execute_script('return self.crossOriginIsolated')


def test_readme_snippet_on_a_plain_static_server_answers_with_threads(site, fresh_browser):
    fresh_browser.get(f'{site.url}/')
    # coi-serviceworker.js registers itself and reloads the page once; then the page is isolated.
    fresh_browser.wait_for('self.crossOriginIsolated === true', timeout=60)
    answer, loaded, isolated = load_and_ask(fresh_browser)
    fresh_browser.screenshot('site-owner-readme-snippet.png')
    assert answer.strip(), 'no answer'
    assert isolated is True
    cores = fresh_browser.driver.execute_script('return navigator.hardwareConcurrency')
    if cores > 1:
        assert loaded['threads'] > 1, loaded
        assert loaded['threadsError'] is None, loaded
    else:
        assert loaded['threads'] == 1 and 'one CPU core' in loaded['threadsError'], loaded


def test_service_worker_outside_the_page_folder_is_named_as_the_reason(site, fresh_browser):
    fresh_browser.get(f'{site.url}/wrong-scope.html')
    answer, loaded, isolated = load_and_ask(fresh_browser)
    assert answer.strip(), 'no answer'
    assert isolated is False
    assert loaded['threads'] == 1
    assert 'not cross-origin isolated' in loaded['threadsError'], loaded
    assert 'coi-serviceworker.js is loaded from /tinylm/' in loaded['threadsError'], loaded


def test_page_without_isolation_says_how_to_get_threads(site, fresh_browser):
    fresh_browser.get(f'{site.url}/no-isolation.html')
    answer, loaded, isolated = load_and_ask(fresh_browser)
    assert answer.strip(), 'no answer'
    assert isolated is False
    assert loaded['threads'] == 1
    assert 'not cross-origin isolated' in loaded['threadsError'], loaded
    assert 'Cross-Origin-Opener-Policy' in loaded['threadsError'] and 'coi-serviceworker.js' in loaded['threadsError'], loaded
