"""Shared fixtures for the browser tests: a static server (scripts/serve.py) per test on a free
127.0.0.1 port, headless Debian chromium driven by the system chromedriver (never Selenium
Manager: there is no internet), and helpers to run async JavaScript in the page.

Downloading the 98 MB model into IndexedDB takes a few seconds, so the tests that only need a
loaded model share one server + browser (`warm`); the tests about downloading, offline use,
corruption and quota get a fresh browser profile each.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
ARTIFACTS = os.path.join(ROOT, 'artifacts')
MODEL_PATH = 'models/SmolLM2-135M-Instruct.Q4_1.gguf'
MODEL_URL_PATH = '/' + MODEL_PATH
CHROMEDRIVER = os.environ.get('CHROMEDRIVER', '/usr/bin/chromedriver')
CHROMIUM = os.environ.get('CHROMIUM', '/usr/lib/chromium/chromium' if os.path.exists('/usr/lib/chromium/chromium') else '/usr/bin/chromium')


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class StaticServer:
    """scripts/serve.py in a subprocess; restartable on the same port (same origin, same IndexedDB)."""

    def __init__(self, *extra):
        self.port = free_port()
        self.extra = list(extra)
        self.process = None

    @property
    def url(self):
        return f'http://127.0.0.1:{self.port}'

    def start(self, *extra):
        args = [sys.executable, os.path.join(ROOT, 'scripts/serve.py'), '--port', str(self.port), '--no-build',
                '--no-fetch', '--quiet', '--test-hooks', *self.extra, *extra]
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = self.process.stdout.readline()
        if 'serving' not in line:
            raise RuntimeError(f'serve.py did not start: {line}{self.process.stdout.read()}')
        return self

    def stop(self):
        if self.process:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def config(self, **settings):
        request = urllib.request.Request(f'{self.url}/__test__/config', data=json.dumps(settings).encode(), method='POST')
        urllib.request.urlopen(request, timeout=10).read()

    def log(self):
        return json.load(urllib.request.urlopen(f'{self.url}/__test__/log', timeout=10))

    def model_requests(self):
        return [r for r in self.log() if r['path'] == MODEL_URL_PATH and r['method'] == 'GET']


class Browser:
    """Headless chromium with its own profile directory (its own IndexedDB and service workers)."""

    def __init__(self, profile=None, width=1280, height=900):
        self.profile = profile or tempfile.mkdtemp(prefix='tinylm-chromium-')
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu',
                     f'--user-data-dir={self.profile}', f'--window-size={width},{height}',
                     '--no-first-run', '--disable-extensions', '--disable-background-networking',
                     '--disable-component-update', '--disable-sync', '--metrics-recording-only'):
            options.add_argument(flag)
        options.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
        self.driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
        self.driver.set_script_timeout(240)

    def quit(self, keep_profile=False):
        try:
            self.driver.quit()
        finally:
            if not keep_profile:
                shutil.rmtree(self.profile, ignore_errors=True)

    def get(self, url):
        self.driver.get(url)

    def run(self, body, *args):
        """Runs `body` (the inside of an async function; `args` holds the arguments) in the page.
        Returns its value, or raises JSError carrying the rejected Error's name and message."""
        script = ('const done = arguments[arguments.length - 1];'
                  'const args = Array.from(arguments).slice(0, -1);'
                  f'(async (args) => {{ {body} }})(args).then('
                  '(value) => done({ok: true, value: value === undefined ? null : value}),'
                  '(error) => done({ok: false, name: error && error.name, message: String(error && error.message || error)}));')
        result = self.driver.execute_async_script(script, *args)
        if not result['ok']:
            raise JSError(result['name'], result['message'])
        return result['value']

    def wait_for(self, expression, timeout=120, interval=0.2):
        """Polls a JavaScript expression until it is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.driver.execute_script(f'return ({expression});')
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f'timed out waiting for: {expression}\nconsole:\n{self.console()}')
            time.sleep(interval)

    def console(self):
        try:
            return '\n'.join(entry['message'] for entry in self.driver.get_log('browser'))
        except Exception:  # noqa: BLE001 — logs are a debugging aid only
            return ''

    def screenshot(self, name):
        os.makedirs(ARTIFACTS, exist_ok=True)
        path = os.path.join(ARTIFACTS, name)
        self.driver.save_screenshot(path)
        return path


class JSError(Exception):
    def __init__(self, name, message):
        super().__init__(f'{name}: {message}')
        self.name = name
        self.message = message


# The snippet most tests run first: a TinyLM with the default model (stored once per profile).
LOAD_MODEL = f"""
const {{ TinyLM }} = await import('/tinylm.js');
window.progress = [];
window.lm = await TinyLM.load('{MODEL_URL_PATH}', {{ onProgress: (p) => window.progress.push(p) }});
return window.lm.loaded;
"""


@pytest.fixture
def server():
    s = StaticServer().start()
    yield s
    s.stop()


@pytest.fixture
def browser():
    b = Browser()
    yield b
    b.quit()


@pytest.fixture(scope='session')
def warm():
    """One server + browser with the default model loaded as `window.lm`, shared by the tests
    that only generate (each test reloads the page if it needs a clean one)."""
    s = StaticServer().start()
    b = Browser()
    b.get(f'{s.url}/')
    b.run(LOAD_MODEL)
    yield s, b
    b.quit()
    s.stop()


def reference_cases():
    with open(os.path.join(ROOT, '..', 'shared', 'reference', 'smollm2', 'greedy.jsonl')) as f:
        return [json.loads(line) for line in f if line.strip()]


def expected_greedy_ids(prompt_ids, count=48):
    """The reference: the native CLI when built, else the same wasm under Node."""
    native = os.path.join(ROOT, '.build/release/tinylm')
    # No repetition penalty: the CLIs default to the model's recommended one.
    flags = ['--prompt-ids', json.dumps(prompt_ids), '--temperature', '0', '--repeat-penalty', '1', '--max-tokens', str(count), '--ignore-eos', '--ids']
    if os.path.exists(native):
        command = [native, 'generate', '--model', os.path.join(ROOT, MODEL_PATH), *flags]
    else:
        command = ['node', os.path.join(ROOT, 'scripts/tinylm-node.mjs'), 'generate', *flags]
    output = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1]), os.path.basename(command[0])
