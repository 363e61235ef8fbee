"""Threads in the browser: scripts/serve.py sends COOP/COEP, so the page is cross-origin isolated
and the engine worker runs the shared-memory module (web/tinylm-mt.wasm) with helper workers.
Two threads must give exactly the ids one thread gives (and the native/Node reference). Speed is
a benchmark's business (Tests/browser/bench.py), never asserted here."""

from conftest import MODEL_URL_PATH, expected_greedy_ids, reference_cases


def test_page_is_cross_origin_isolated_and_uses_two_threads(warm):
    server, browser = warm
    browser.get(f'{server.url}/')
    status = browser.run(f"""
        const {{ TinyLM }} = await import('/tinylm.js');
        const lm = await TinyLM.load('{MODEL_URL_PATH}');  // the default thread count
        try {{
          return {{ isolated: self.crossOriginIsolated, cores: navigator.hardwareConcurrency,
                   loaded: lm.loaded, status: await lm.status() }};
        }} finally {{ lm.terminate(); }}
    """)
    assert status['isolated'] is True
    assert status['status']['crossOriginIsolated'] is True
    # The default: min(4, cores) threads when isolated.
    expected = max(1, min(4, status['cores']))
    assert status['loaded']['threads'] == expected, status['loaded'].get('threadsError')
    assert status['status']['threads'] == expected


def test_two_threads_give_the_ids_of_one_thread(warm):
    server, browser = warm
    browser.get(f'{server.url}/')
    case = reference_cases()[0]
    expected, tool = expected_greedy_ids(case['prompt_ids'], 48)
    results = browser.run(f"""
        const [ids] = args;
        const {{ TinyLM }} = await import('/tinylm.js');
        const out = {{}};
        for (const threads of [1, 2]) {{
          // adaptiveThreads: false: every section really is split across the two threads.
          const lm = await TinyLM.load('{MODEL_URL_PATH}', {{ threads, adaptiveThreads: false }});
          try {{
            const result = await lm.generate(ids, {{ temperature: 0, maxTokens: 48, ignoreEOS: true }});
            out[threads] = {{ threads: lm.loaded.threads, error: lm.loaded.threadsError, tokens: result.tokens,
                             tokensPerSecond: result.timings.tokensPerSecond, sections: (await lm.status()).threadSections }};
          }} finally {{
            lm.terminate();
          }}
        }}
        return out;
    """, case['prompt_ids'])
    assert results['1']['threads'] == 1
    assert results['2']['threads'] == 2, results['2']['error']
    assert results['1']['sections'] is None
    assert results['2']['sections']['parallel'] > 1000 and results['2']['sections']['serial'] == 0
    assert results['2']['tokens'] == results['1']['tokens']
    assert results['1']['tokens'] == expected, f'browser ids differ from {tool}'
    print(f"\ndecode in the browser: 1 thread {results['1']['tokensPerSecond']:.1f} tokens/s, "
          f"2 threads {results['2']['tokensPerSecond']:.1f} tokens/s")


def test_without_isolation_the_single_thread_module_runs(server, browser):
    """A page that is not cross-origin isolated (here: served without COOP/COEP) gets no
    SharedArrayBuffer; asking for threads silently falls back to one."""
    server.stop()
    server.start('--no-isolation')
    browser.get(f'{server.url}/')
    result = browser.run(f"""
        const {{ TinyLM }} = await import('/tinylm.js');
        const lm = await TinyLM.load('{MODEL_URL_PATH}', {{ threads: 2 }});
        try {{
          const {{ tokens }} = await lm.generate('Hello', {{ temperature: 0, maxTokens: 4, ignoreEOS: true }});
          return {{ isolated: self.crossOriginIsolated, threads: lm.loaded.threads, error: lm.loaded.threadsError, count: tokens.length }};
        }} finally {{ lm.terminate(); }}
    """)
    assert result['isolated'] is False
    assert result['threads'] == 1
    assert 'cross-origin isolated' in result['error']
    assert result['count'] == 4


def test_coi_serviceworker_isolates_a_page_on_a_host_without_headers(server, browser):
    """web/coi-serviceworker.js (the static-host recipe in web/README.md): the example page
    registers it, reloads once, and is then cross-origin isolated and runs two threads."""
    server.stop()
    server.start('--no-isolation')
    browser.get(f'{server.url}/examples/generate.html')
    browser.wait_for('window.crossOriginIsolated === true && navigator.serviceWorker.controller !== null', timeout=60)
    result = browser.run(f"""
        const {{ TinyLM }} = await import('/tinylm.js');
        const lm = await TinyLM.load('{MODEL_URL_PATH}', {{ threads: 2 }});
        try {{
          const {{ tokens }} = await lm.generate('Hello', {{ temperature: 0, maxTokens: 4, ignoreEOS: true }});
          return {{ threads: lm.loaded.threads, error: lm.loaded.threadsError, count: tokens.length }};
        }} finally {{ lm.terminate(); }}
    """)
    assert result['threads'] == 2, result['error']
    assert result['count'] == 4
