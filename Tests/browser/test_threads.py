"""Threads in the browser: scripts/serve.py sends COOP/COEP, so the page is cross-origin isolated
and the engine worker runs the shared-memory module (web/tinylm-mt.wasm) with helper workers.
Two threads must give exactly the ids one thread gives (and the native/Node reference). Speed is
a benchmark's business (Tests/browser/bench.py), never asserted here."""

import os

import pytest

from conftest import MODEL_URL_PATH, expected_greedy_ids, reference_cases

# The CPUs this process (and so the browser it starts) may run on.
MACHINE_CORES = len(os.sched_getaffinity(0))


@pytest.mark.needs('shared_memory')
def test_page_is_cross_origin_isolated_and_uses_the_real_core_count(warm):
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
    # The default: min(4, cores) threads when isolated, never more than this machine has, also
    # where navigator.hardwareConcurrency says more (WebKit says 4 for anything under 8 cores).
    # The measurement answers at least 2 and may see fewer cores than there are under load.
    threads = status['loaded']['threads']
    assert min(2, status['cores']) <= threads <= max(2, min(4, MACHINE_CORES)), (status['cores'], status['loaded'].get('threadsError'))
    assert status['status']['threads'] == threads


@pytest.mark.needs('shared_memory')
def test_core_count_measures_the_cores_that_run_at_once(warm):
    """web/core-count.js, which the default thread count relies on where the browser's
    navigator.hardwareConcurrency may be too high: asked for up to 4 cores, whatever the engine
    reports, it answers no more than the machine has (and at least 2; load may hide cores)."""
    server, browser = warm
    browser.get(f'{server.url}/')
    result = browser.run("""
        const { parallelCores } = await import('/core-count.js');
        return { reported: navigator.hardwareConcurrency, four: await parallelCores(4), one: await parallelCores(1) };
    """)
    assert 2 <= result['four'] <= max(2, min(4, MACHINE_CORES)), result
    assert result['one'] == 1


@pytest.mark.needs('shared_memory')
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
            const result = await lm.generate(ids, {{ temperature: 0, repeatPenalty: 1, maxTokens: 48, ignoreEOS: true }});
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


@pytest.mark.needs('shared_memory')
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


@pytest.mark.only_in('webkit', reason='the one engine here that is cross-origin isolated without SharedArrayBuffer')
def test_isolated_page_without_shared_memory_says_so(warm):
    server, browser = warm
    browser.get(f'{server.url}/')
    result = browser.run(f"""
        const {{ TinyLM }} = await import('/tinylm.js');
        const lm = await TinyLM.load('{MODEL_URL_PATH}', {{ threads: 2 }});
        try {{
          const {{ tokens }} = await lm.generate('Hello', {{ temperature: 0, maxTokens: 4, ignoreEOS: true }});
          return {{ isolated: self.crossOriginIsolated, sab: typeof SharedArrayBuffer, threads: lm.loaded.threads,
                   error: lm.loaded.threadsError, count: tokens.length }};
        }} finally {{ lm.terminate(); }}
    """)
    assert result['isolated'] is True and result['sab'] == 'undefined'
    assert result['threads'] == 1 and result['count'] == 4
    if 'not cross-origin isolated' in result['error']:
        # Issue 19 item 6: the newcomer-web branch changes this wording; drop this branch when it lands.
        pytest.xfail(f'threadsError still blames isolation: {result["error"]}')
    assert 'SharedArrayBuffer' in result['error'] and 'not cross-origin isolated' not in result['error'], result['error']
