"""Multi-turn chats reuse the KV cache of every earlier turn, the answers as generated included:
each turn evaluates only its new message (worker.js extends the previous prompt's token ids
with the answer's sampled tokens). And what the web API does around a turn: the model's
recommended sampling, a random seed unless one is given, unload() and terminate() stopping a
generation at once."""

import pytest

from conftest import LOAD_MODEL, MODEL_URL_PATH

@pytest.fixture
def page(warm):
    """The warm browser on a page with the default model loaded as window.lm (other tests may
    have navigated elsewhere)."""
    server, browser = warm
    if not browser.driver.execute_script('return Boolean(window.lm && window.lm.loaded)'):
        browser.get(f'{server.url}/')
        browser.run(LOAD_MODEL)
    return browser


QUESTIONS = ['What is the capital of France?', 'And of Italy?', 'Name a river there.', 'How long is it?']


def test_each_turn_reuses_everything_the_session_holds(page):
    browser = page
    turns = browser.run("""
        const [questions] = args;
        const messages = [{ role: 'system', content: 'You are a helpful assistant. Answer briefly.' }];
        const turns = [];
        for (const question of questions) {
          messages.push({ role: 'user', content: question });
          const result = await window.lm.chat(messages, { maxTokens: 40, seed: 7 });
          messages.push({ role: 'assistant', content: result.text });
          turns.push({ usage: result.usage, reason: result.reason });
        }
        return turns;
    """, QUESTIONS)
    for previous, turn in zip(turns, turns[1:]):
        # The session holds the previous prompt and every answer token it evaluated (an end-of-turn
        # token that ended the answer is sampled but not evaluated: it comes back with the template).
        held = previous['usage']['promptTokens'] + previous['usage']['completionTokens']
        assert turn['usage']['reusedTokens'] == held, (previous, turn)
        assert turn['usage']['promptTokens'] > held


def test_continue_goes_on_with_the_same_answer(page):
    browser = page
    outcome = browser.run("""
        const messages = [{ role: 'user', content: 'Write a short poem about bread.' }];
        const cut = await window.lm.chat(messages, { maxTokens: 6, seed: 3 });
        const more = await window.lm.chat([...messages, { role: 'assistant', content: cut.text }],
                                          { maxTokens: 6, seed: 3, continue: true });
        const whole = await window.lm.chat(messages, { maxTokens: 12, seed: 3, temperature: 0 });
        const first = await window.lm.chat(messages, { maxTokens: 6, seed: 3, temperature: 0 });
        const rest = await window.lm.chat([...messages, { role: 'assistant', content: first.text }],
                                          { maxTokens: 6, temperature: 0, continue: true });
        return { cut, more, whole: whole.text, greedy: first.text + rest.text, restUsage: rest.usage };
    """)
    assert outcome['cut']['reason'] == 'length'
    # Continuing evaluates nothing again: the whole prompt, answer so far included, is cached.
    held = outcome['cut']['usage']['promptTokens'] + outcome['cut']['usage']['completionTokens']
    assert outcome['more']['usage']['reusedTokens'] == held - 1  # the last token is evaluated again for its logits
    assert outcome['more']['usage']['promptTokens'] == held
    # Greedy: 6 tokens + 6 continued tokens are the 12 tokens of one answer.
    assert outcome['greedy'] == outcome['whole']


def test_sampling_defaults_come_from_the_model_and_seeds_vary(page):
    browser = page
    outcome = browser.run("""
        const a = await window.lm.generate('Bread is', { maxTokens: 2 });
        const b = await window.lm.generate('Bread is', { maxTokens: 2 });
        const fixed = await window.lm.generate('Bread is', { maxTokens: 2, seed: 42, temperature: 1.5 });
        return { loaded: window.lm.loaded.sampling, info: window.lm.loaded.info.sampling ?? null,
                 a: a.sampling, b: b.sampling, fixed: fixed.sampling };
    """)
    recommended = outcome['loaded']
    if outcome['info'] is None:
        # An engine that reports no recommendation: llama.cpp's defaults, as the core uses them.
        assert recommended is None
        expected = {'temperature': 0.8, 'topK': 40, 'topP': 0.95, 'minP': 0.05, 'repeatPenalty': 1.0}
    else:
        expected = {key: outcome['info'][key] for key in ('temperature', 'topK', 'topP', 'minP', 'repeatPenalty')}
        assert recommended['source'] == outcome['info']['source']
    for key, value in expected.items():
        assert outcome['a'][key] == pytest.approx(value), key
    assert outcome['a']['seed'] != outcome['b']['seed'], 'two requests without a seed got the same one'
    assert outcome['fixed']['seed'] == 42 and outcome['fixed']['temperature'] == 1.5


LONG_GENERATION = f"""
    const {{ TinyLM }} = await import('/tinylm.js');
    const lm = await TinyLM.load('{MODEL_URL_PATH}');
    let count = 0, atStop = null;
    const done = lm.generate('Once upon a time', {{ maxTokens: 2000, ignoreEOS: true, onToken: () => {{ count++; }} }})
      .then((r) => ({{ finished: r.tokens.length }}), (e) => ({{ error: e.name, message: e.message }}));
    while (count < 5) await new Promise((r) => setTimeout(r, 5));
"""


def test_unload_stops_a_generation_at_once(page):
    browser = page
    outcome = browser.run(LONG_GENERATION + """
        atStop = count;
        await lm.unload();
        const afterUnload = count - atStop;
        const generation = await done;
        let next;
        try { await lm.generate('Hi', { maxTokens: 1 }); next = 'generated'; } catch (e) { next = e.name; }
        lm.terminate();
        return { afterUnload, generation, loaded: lm.loaded, next };
    """)
    assert outcome['generation'].get('error') == 'AbortError', outcome
    assert outcome['afterUnload'] <= 1, 'tokens kept coming after unload()'
    assert outcome['loaded'] is None
    assert outcome['next'] == 'InvalidStateError'


def test_terminate_stops_a_generation_at_once(page):
    browser = page
    outcome = browser.run(LONG_GENERATION + """
        atStop = count;
        lm.terminate();
        const generation = await done;
        await new Promise((r) => setTimeout(r, 300));
        return { after: count - atStop, generation };
    """)
    assert outcome['generation'].get('error') == 'AbortError', outcome
    assert outcome['after'] == 0
