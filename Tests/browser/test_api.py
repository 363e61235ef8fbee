"""The public API (web/tinylm.js) in every engine, on one shared page with the default model
loaded (`warm`): greedy ids equal the native/Node reference, streaming, abort, chat, token
counting, and named errors."""

import pytest

from conftest import JSError, MODEL_URL_PATH, expected_greedy_ids, reference_cases

IN_WASM = ('runs inside the wasm module (template, tokenizer, grammar), the same in every engine; the chat box '
           'tests cover chat in the others')


def test_load_reports_progress_phases(warm):
    _, browser = warm
    progress = browser.first_load_progress  # the first visit: the model was not stored yet
    assert list(dict.fromkeys(p['phase'] for p in progress)) == ['download', 'verify', 'load']
    last_download = [p for p in progress if p['phase'] == 'download'][-1]
    assert last_download['done'] == last_download['total'] == 98362432


@pytest.mark.parametrize('case', reference_cases()[:3], ids=lambda c: c['name'])
def test_greedy_ids_equal_the_reference(warm, case):
    _, browser = warm
    expected, tool = expected_greedy_ids(case['prompt_ids'], 48)
    result = browser.run("""
        const [ids] = args;
        let streamed = '';
        const result = await window.lm.generate(ids, { temperature: 0, repeatPenalty: 1, maxTokens: 48, ignoreEOS: true,
                                                        onToken: (text) => { streamed += text; } });
        result.streamed = streamed;
        return result;
    """, case['prompt_ids'])
    assert result['tokens'] == expected, f'browser ids differ from {tool}'
    assert result['streamed'] == result['text']
    assert result['reason'] == 'length'
    print(f"\n{case['name']}: decode {result['timings']['tokensPerSecond']:.1f} tokens/s in the browser")


def test_abort_stops_generation_at_once(warm):
    _, browser = warm
    outcome = browser.run("""
        const controller = new AbortController();
        let count = 0, atAbort = null, abortedAt = 0;
        const started = performance.now();
        try {
          await window.lm.generate('Once upon a time', { maxTokens: 1000, ignoreEOS: true, seed: 3,
            signal: controller.signal,
            onToken: () => { count++; if (count === 5) { atAbort = count; abortedAt = performance.now(); controller.abort(); } } });
          return { error: null };
        } catch (error) {
          return { error: error.name, after: count - atAbort, ms: performance.now() - abortedAt,
                   partial: error.partial && error.partial.tokens.length };
        }
    """)
    assert outcome['error'] == 'AbortError'
    assert outcome['after'] <= 1, 'tokens kept arriving after abort()'
    assert outcome['ms'] < 5000, outcome  # generous: one token takes well under a second
    # The worker is free again at once.
    again = browser.run("return (await window.lm.generate('Hi', { maxTokens: 2, temperature: 0 })).tokens.length;")
    assert again >= 1


def test_stream_iterator_and_early_break(warm):
    _, browser = warm
    outcome = browser.run("""
        const pieces = [];
        const stream = window.lm.stream('The capital of France is', { temperature: 0, maxTokens: 30, ignoreEOS: true });
        for await (const piece of stream) { pieces.push(piece); if (pieces.length === 3) break; }
        let closed;
        try { await stream.result; closed = 'finished'; } catch (error) { closed = error.name; }
        const full = [];
        for await (const { text } of window.lm.stream('The capital of France is', { temperature: 0, maxTokens: 4, ignoreEOS: true })) full.push(text);
        return { pieces, closed, full: full.join('') };
    """)
    assert len(outcome['pieces']) == 3
    assert outcome['pieces'][0]['token'] == 7042  # " Paris"
    assert outcome['closed'] == 'AbortError'  # breaking out of the loop stops the generation
    assert outcome['full'].startswith(' Paris')


@pytest.mark.only_in('chromium', reason=IN_WASM)
def test_chat_and_token_counting(warm):
    _, browser = warm
    outcome = browser.run("""
        const messages = [{ role: 'user', content: 'Name a color.' }];
        const result = await window.lm.chat(messages, { temperature: 0, maxTokens: 12 });
        const prompt = await window.lm.formatChat(messages);
        return {
          text: result.text, usage: result.usage,
          chatCount: await window.lm.countTokens(messages),
          textCount: await window.lm.countTokens('The capital of France is'),
          ids: await window.lm.tokenize('The capital of France is'),
          hasTemplate: prompt.includes('<|im_start|>user'),
        };
    """)
    assert outcome['text'].strip()
    assert outcome['hasTemplate']
    assert outcome['usage']['promptTokens'] == outcome['chatCount']
    assert outcome['ids'] == [504, 3575, 282, 4649, 314]
    assert outcome['textCount'] >= 5


def test_failures_reject_with_named_errors(warm):
    server, browser = warm
    def error_of(body):
        with pytest.raises(JSError) as info:
            browser.run(body)
        return info.value
    # A prompt longer than the context.
    overflow = error_of("await window.lm.generate('word '.repeat(3000), { maxTokens: 4 });")
    assert overflow.name == 'ContextOverflowError'
    # A missing file, a file that is not a model, a wrong expected hash, an aborted load.
    missing = error_of("const { TinyLM } = await import('/tinylm.js'); await TinyLM.load('/models/missing.gguf');")
    assert missing.name == 'NetworkError' and '404' in missing.message
    invalid = error_of("const { TinyLM } = await import('/tinylm.js'); await TinyLM.load('/index.html');")
    assert invalid.name == 'InvalidModelError'
    assert browser.run("const { modelStore } = await import('/tinylm.js'); return await modelStore.has('/index.html');") is False
    wrong_hash = error_of(f"const {{ TinyLM }} = await import('/tinylm.js'); await TinyLM.load('{MODEL_URL_PATH}', {{ sha256: '00'.repeat(32) }});")
    assert wrong_hash.name == 'IntegrityError'
    aborted = error_of(f"""const {{ TinyLM }} = await import('/tinylm.js');
        await TinyLM.load('{MODEL_URL_PATH}', {{ signal: AbortSignal.abort() }});""")
    assert aborted.name == 'AbortError'
    # The shared model still works afterwards.
    assert browser.run("return (await window.lm.generate('Hi', { maxTokens: 1 })).tokens.length;") == 1


def test_load_from_a_picked_file(warm):
    # A File the user picked (here: built from the same bytes) is stored under its own id and loads.
    _, browser = warm
    outcome = browser.run(f"""
        const {{ TinyLM, modelStore }} = await import('/tinylm.js');
        const blob = await (await fetch('{MODEL_URL_PATH}')).blob();
        const file = new File([blob], 'picked.gguf', {{ lastModified: 1 }});
        const lm = await TinyLM.load(file);
        const ids = (await lm.generate([504, 3575, 282, 4649, 314], {{ temperature: 0, maxTokens: 2 }})).tokens;
        const loaded = lm.loaded;
        lm.terminate();
        const stored = await modelStore.has(loaded.id);
        await modelStore.delete(loaded.id);
        return {{ id: loaded.id, ids, stored }};
    """)
    assert outcome['id'] == f'file:picked.gguf:98362432:1'
    assert outcome['stored'] is True
    assert outcome['ids'][0] == 7042


@pytest.mark.only_in('chromium', reason=IN_WASM)
def test_json_schema_output_parses_and_validates(warm):
    _, browser = warm
    result = browser.run("""
        const schema = { type: 'object', properties: {
            city: { type: 'string' }, country: { type: 'string' }, population: { type: 'integer' } },
          required: ['city', 'country', 'population'] };
        const outputs = [];
        for (const seed of [1, 2]) {
          const r = await window.lm.generate('The largest city of Japan, as JSON:', {
            responseFormat: { type: 'json_schema', schema }, temperature: 0.8, seed, maxTokens: 80 });
          outputs.push({ text: r.text, reason: r.reason });
        }
        return outputs;
    """)
    import json
    for output in result:
        value = json.loads(output['text'])
        assert set(value) == {'city', 'country', 'population'}
        assert isinstance(value['city'], str) and isinstance(value['country'], str)
        assert isinstance(value['population'], int)
        assert output['reason'] == 'grammar'


@pytest.mark.only_in('chromium', reason=IN_WASM)
def test_chat_with_tools_returns_tool_calls(warm):
    _, browser = warm
    result = browser.run("""
        const tools = [{ type: 'function', function: { name: 'get_weather', description: 'Current weather',
          parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];
        const r = await window.lm.chat([{ role: 'user', content: 'What is the weather in Paris?' }],
                                       { tools, toolChoice: 'required', temperature: 0, maxTokens: 60 });
        // Streamed: each piece says which of its text is content and which the call's deltas.
        const stream = window.lm.streamChat([{ role: 'user', content: 'What is the weather in Paris?' }],
                                            { tools, toolChoice: 'required', temperature: 0, maxTokens: 60 });
        const pieces = [];
        for await (const piece of stream) pieces.push(piece);
        const streamed = await stream.result;
        return { reason: r.reason, calls: r.toolCalls, content: r.content, pieces, streamed: streamed.toolCalls };
    """)
    import json
    assert result['reason'] == 'tool_calls'
    assert len(result['calls']) == 1
    call = result['calls'][0]
    assert call['type'] == 'function' and call['function']['name'] == 'get_weather'
    assert 'city' in json.loads(call['function']['arguments'])
    assert result['content'] == ''
    deltas = [d for p in result['pieces'] for d in (p['toolCalls'] or [])]
    assert all(p['content'] == '' for p in result['pieces'])
    assert deltas[0]['id'] == result['streamed'][0]['id'] and deltas[0]['function']['name'] == 'get_weather'
    assert ''.join(d['function']['arguments'] for d in deltas) == call['function']['arguments']
    assert [c['function'] for c in result['streamed']] == [call['function']]
