"""One engine for the tabs of a site (web/shared-engine.js, web/shared-engine-client.js): two
tabs of one browser (two window handles of one WebDriver session) load SmolLM2 with
sharedEngine: true. One download reaches the server, one model instance is loaded, both tabs
answer with the greedy text of a tab on its own engine; requests from the tabs take turns; an
abort in one tab, or closing it, leaves the other tab's answer running to the end; the model is
freed when no tab uses it. With sharedEngine: false each tab has its own engine."""

import os

import pytest

from conftest import MODEL_PATH, ROOT

MODEL_SIZE = os.path.getsize(os.path.join(ROOT, MODEL_PATH))
PROMPT = 'The three primary colors are'

# Starts a load in the current tab without waiting for it (so that two tabs load at once).
START_LOAD = """
const { TinyLM } = await import('/tinylm.js');
window.loadDone = TinyLM.load('/%s', args[0]).then((lm) => { window.lm = lm; return lm.loaded; });
window.loadDone.then((loaded) => { window.loaded = loaded; }, (error) => { window.loadError = `${error.name}: ${error.message}`; });
""" % MODEL_PATH

GREEDY = {'temperature': 0, 'repeatPenalty': 1, 'ignoreEOS': True}


def open_tabs(browser, server, count):
    """`count` tabs on the site's root page; returns their window handles."""
    driver = browser.driver
    browser.get(f'{server.url}/')
    handles = [driver.current_window_handle]
    for _ in range(count - 1):
        driver.switch_to.new_window('tab')
        browser.get(f'{server.url}/')
        handles.append(driver.current_window_handle)
    return handles


def in_tab(browser, handle, body, *args):
    browser.driver.switch_to.window(handle)
    return browser.run(body, *args)


def load_in_tabs(browser, handles, options):
    for handle in handles:
        in_tab(browser, handle, START_LOAD, options)
    loaded = []
    for handle in handles:
        browser.driver.switch_to.window(handle)
        browser.wait_for('window.loaded || window.loadError', timeout=240)
        assert browser.run('return window.loadError ?? null;') is None
        loaded.append(browser.run('return window.loaded;'))
    return loaded


def greedy_text(browser, handle, tokens=24):
    return in_tab(browser, handle, 'return (await window.lm.generate(args[0], args[1])).text;',
                  PROMPT, {**GREEDY, 'maxTokens': tokens})


def needs_shared_workers(browser):
    if not browser.run("return typeof SharedWorker !== 'undefined';"):
        pytest.skip(f'{browser.engine}: this browser has no SharedWorker, so every tab has its own engine')


def test_two_tabs_share_one_download_and_one_model(server, browser):
    handles = open_tabs(browser, server, 2)
    needs_shared_workers(browser)
    loaded = load_in_tabs(browser, handles, {'sharedEngine': True})
    # One download between the two tabs: the server sent the file's bytes once.
    sent = sum(r['sent'] for r in server.model_requests() if r['status'] in (200, 206))
    assert sent == MODEL_SIZE, server.model_requests()
    assert sorted(entry['downloaded'] for entry in loaded) == [False, True]
    # Browsers isolate no SharedWorker (DESIGN.md): one thread, and the reason names the real cause.
    assert all(entry['threads'] == 1 and 'SharedWorker' in entry['threadsError'] for entry in loaded), loaded
    statuses = [in_tab(browser, handle, 'return await window.lm.status();') for handle in handles]
    engines = {status['sharedEngine']['instance'] for status in statuses}
    assert len(engines) == 1, statuses
    assert all(status['sharedEngine']['modelLoads'] == 1 and status['sharedEngine']['tabs'] == 2 for status in statuses), statuses
    assert all(status['loaded'] for status in statuses)

    texts = [greedy_text(browser, handle) for handle in handles]
    # The same greedy answer as a tab with an engine of its own.
    alone = in_tab(browser, handles[0], """
        const { TinyLM } = await import('/tinylm.js');
        const own = await TinyLM.load(args[0], { sharedEngine: false });
        try { return (await own.generate(args[1], args[2])).text; } finally { own.terminate(); }
    """, f'/{MODEL_PATH}', PROMPT, {**GREEDY, 'maxTokens': 24})
    assert alone and texts == [alone, alone]

    # The model stays while one tab uses it and is freed when the last one unloads it.
    in_tab(browser, handles[0], 'await window.lm.unload();')
    assert greedy_text(browser, handles[1]) == alone
    in_tab(browser, handles[1], 'await window.lm.unload();')
    browser.wait_for('window.lm.status().then((s) => { window.lastStatus = s; }), window.lastStatus && !window.lastStatus.loaded', timeout=120)


def test_abort_and_closing_a_tab_stop_only_that_tab(server, browser):
    handles = open_tabs(browser, server, 3)
    needs_shared_workers(browser)
    load_in_tabs(browser, handles, {'sharedEngine': True})
    expected = greedy_text(browser, handles[1], tokens=16)

    # Tab A streams a long answer; tab B's request waits for its turn; A aborts: B finishes.
    in_tab(browser, handles[0], """
        window.tokensA = 0;
        window.stopA = new AbortController();
        window.lm.generate(args[0], { ...args[1], maxTokens: 2000, signal: window.stopA.signal, onToken: () => { window.tokensA++; } })
          .then(() => { window.endA = 'finished'; }, (error) => { window.endA = error.name; });
    """, PROMPT, GREEDY)
    browser.wait_for('window.tokensA > 2')
    in_tab(browser, handles[1], """
        window.endB = null;
        window.lm.generate(args[0], { ...args[1], maxTokens: 16 }).then((r) => { window.endB = r.text; }, (e) => { window.endB = e.name; });
    """, PROMPT, GREEDY)
    in_tab(browser, handles[0], 'window.stopA.abort();')
    browser.wait_for('window.endA')
    assert browser.run('return window.endA;') == 'AbortError'
    browser.driver.switch_to.window(handles[1])
    assert browser.wait_for('window.endB', timeout=120) == expected

    # Tab C starts a long answer and is closed: its request stops, tab B's next one runs.
    in_tab(browser, handles[2], """
        window.tokensC = 0;
        window.lm.generate(args[0], { ...args[1], maxTokens: 2000, onToken: () => { window.tokensC++; } });
    """, PROMPT, GREEDY)
    browser.wait_for('window.tokensC > 2')
    browser.driver.close()
    browser.driver.switch_to.window(handles[1])
    browser.wait_for('window.lm.status().then((s) => { window.engineTabs = s.sharedEngine.tabs; }), window.engineTabs === 2', timeout=120)
    assert greedy_text(browser, handles[1], tokens=16) == expected


def test_tabs_take_turns(server, browser):
    handles = open_tabs(browser, server, 2)
    needs_shared_workers(browser)
    load_in_tabs(browser, handles, {'sharedEngine': True})
    # Tab A queues three answers at once, then tab B one: B's runs second, not fourth.
    # A's first answer runs until B's request is in the engine's queue (B's status answer,
    # sent after it on the same port, says so), then A stops it: no race with its length.
    in_tab(browser, handles[0], """
        window.stopA1 = new AbortController();
        window.firstStarted = new Promise((started) => {
          for (let i = 1; i <= 3; i++) {
            window.lm.generate(args[0], { ...args[1], maxTokens: i === 1 ? 2000 : 12, signal: i === 1 ? window.stopA1.signal : undefined, onToken: i === 1 ? started : undefined })
              .catch((error) => { if (error.name !== 'AbortError') throw error; })
              .then(() => { localStorage.setItem(`done-A${i}`, String(performance.timeOrigin + performance.now())); });
          }
        });
        await window.firstStarted;
    """, PROMPT, GREEDY)
    in_tab(browser, handles[1], """
        window.lm.generate(args[0], { ...args[1], maxTokens: 12 })
          .then(() => { localStorage.setItem('done-B1', String(performance.timeOrigin + performance.now())); });
        await window.lm.status();
    """, PROMPT, GREEDY)
    in_tab(browser, handles[0], 'window.stopA1.abort();')
    browser.wait_for("localStorage.getItem('done-A3')", timeout=120)
    done = browser.run("""
        return Object.fromEntries(['A1', 'A2', 'A3', 'B1'].map((name) => [name, Number(localStorage.getItem(`done-${name}`))]));
    """)
    assert sorted(done, key=done.get) == ['A1', 'B1', 'A2', 'A3'], done


def test_opt_out_gives_each_tab_its_own_engine(server, browser):
    handles = open_tabs(browser, server, 2)
    loaded = load_in_tabs(browser, handles[:1], {'sharedEngine': False}) + load_in_tabs(browser, handles[1:], {'sharedEngine': False})
    assert [entry['downloaded'] for entry in loaded] == [True, False]  # the store is shared either way
    statuses = [in_tab(browser, handle, 'return await window.lm.status();') for handle in handles]
    assert all(status['loaded'] and 'sharedEngine' not in status for status in statuses), statuses
    texts = [greedy_text(browser, handle) for handle in handles]
    assert texts[0] and texts[0] == texts[1]
    # Left out, the option keeps a dedicated Worker on a cross-origin isolated page (a
    # SharedWorker would run one thread) and shares the engine on a page that is not.
    default = in_tab(browser, handles[0], """
        const { TinyLM } = await import('/tinylm.js');
        const lm = new TinyLM();
        try { return { isolated: crossOriginIsolated, shared: 'sharedEngine' in await lm.status() }; } finally { lm.terminate(); }
    """)
    shared_workers = in_tab(browser, handles[0], "return typeof SharedWorker !== 'undefined';")
    assert default['shared'] == (shared_workers and not default['isolated']), default


def test_a_page_left_lets_go_of_the_engine_and_takes_it_back_on_return(server, browser):
    handles = open_tabs(browser, server, 2)
    needs_shared_workers(browser)
    load_in_tabs(browser, handles, {'sharedEngine': True})
    expected = greedy_text(browser, handles[0], tokens=8)
    # Tab A goes to another page: kept in the back/forward cache or not, it leaves the engine.
    in_tab(browser, handles[0], "addEventListener('pagehide', (e) => localStorage.setItem('cached', String(e.persisted)));")
    browser.get(f'{server.url}/README.md')
    browser.driver.switch_to.window(handles[1])
    browser.wait_for('window.lm.status().then((s) => { window.engineTabs = s.sharedEngine.tabs; }), window.engineTabs === 1', timeout=120)
    assert greedy_text(browser, handles[1], tokens=8) == expected
    browser.driver.switch_to.window(handles[0])
    browser.driver.back()
    browser.wait_for("document.readyState === 'complete'")
    if not browser.run("return localStorage.getItem('cached') === 'true' && !!window.lm;"):
        return  # not kept in the cache: the page starts afresh, with nothing to take back
    # Back from the cache: the page's TinyLM works again (the model is loaded again for it).
    assert greedy_text(browser, handles[0], tokens=8) == expected
    assert in_tab(browser, handles[0], 'return (await window.lm.status()).sharedEngine.tabs;') == 2
