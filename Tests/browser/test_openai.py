"""The OpenAI-compatible calls (web/openai.js) on the shared page (`warm`): each gives the same
text as TinyLM's own call with the same seed, and every object has the field names and types of
the OpenAI API reference (Chat Completions, Completions, Embeddings); mistyped options are
InvalidArgumentErrors naming the closest valid option, on the page and in the Worker."""

import base64
import json
import struct

import pytest

from conftest import JSError

IN_WASM = ('the translation and the generation are the same JavaScript and wasm in every engine; the plain chat '
           'and streaming tests run in all of them')

# The API reference's shapes: field → type (a tuple: any of them; a dict: a nested object; a
# list of one spec: an array of such). `None` stands for null.
NULL = type(None)
USAGE = {'prompt_tokens': int, 'completion_tokens': int, 'total_tokens': int,
         'prompt_tokens_details': {'cached_tokens': int}}
TOOL_CALL = {'id': str, 'type': str, 'function': {'name': str, 'arguments': str}}
MESSAGE = {'role': str, 'content': (str, NULL), 'refusal': (str, NULL)}
CHAT_COMPLETION = {
    'id': str, 'object': str, 'created': int, 'model': str, 'system_fingerprint': (str, NULL),
    'choices': [{'index': int, 'message': MESSAGE, 'logprobs': NULL, 'finish_reason': str}],
    'usage': USAGE,
}
CHUNK = {
    'id': str, 'object': str, 'created': int, 'model': str, 'system_fingerprint': (str, NULL),
    'choices': [{'index': int, 'delta': dict, 'logprobs': NULL, 'finish_reason': (str, NULL)}],
    'usage': (dict, NULL),
}
TEXT_COMPLETION = {
    'id': str, 'object': str, 'created': int, 'model': str, 'system_fingerprint': (str, NULL),
    'choices': [{'text': str, 'index': int, 'logprobs': NULL, 'finish_reason': (str, NULL)}],
    'usage': (dict, NULL),
}
FINISH_REASONS = {'stop', 'length', 'tool_calls', 'content_filter'}


def check_shape(value, spec, where='response'):
    """Asserts that `value` has every field of `spec` with its type (extra fields are allowed,
    as the API may add some)."""
    if isinstance(spec, dict):
        assert isinstance(value, dict), f'{where} is not an object: {value!r}'
        for key, inner in spec.items():
            assert key in value, f'{where} lacks {key!r}: {value!r}'
            check_shape(value[key], inner, f'{where}.{key}')
    elif isinstance(spec, list):
        assert isinstance(value, list), f'{where} is not an array: {value!r}'
        for i, item in enumerate(value):
            check_shape(item, spec[0], f'{where}[{i}]')
    else:
        types = spec if isinstance(spec, tuple) else (spec,)
        # JSON has no int/float split: a whole-number float from JavaScript arrives as int here.
        assert isinstance(value, types) and not (isinstance(value, bool) and bool not in types), \
            f'{where} is {value!r}, not {types}'


MESSAGES = [{'role': 'system', 'content': 'You are a helpful assistant.'},
            {'role': 'user', 'content': 'Name three fruits.'}]


def test_chat_completion_and_its_stream_equal_tinylm_chat(warm):
    _, browser = warm
    outcome = browser.run("""
        const [messages] = args;
        const own = await window.lm.chat(messages, { temperature: 0.7, topP: 0.9, seed: 11, maxTokens: 24 });
        const completion = await window.lm.chat.completions.create({
          model: 'gpt-4o-mini', messages, temperature: 0.7, top_p: 0.9, seed: 11, max_tokens: 24 });
        const chunks = [];
        for await (const chunk of await window.lm.chat.completions.create({
            model: 'gpt-4o-mini', messages, temperature: 0.7, top_p: 0.9, seed: 11, max_tokens: 24, stream: true })) chunks.push(chunk);
        return { own: { text: own.text, reason: own.reason, usage: own.usage }, completion, chunks };
    """, MESSAGES)
    own, completion, chunks = outcome['own'], outcome['completion'], outcome['chunks']
    check_shape(completion, CHAT_COMPLETION)
    assert completion['object'] == 'chat.completion'
    assert completion['id'].startswith('chatcmpl-')
    assert completion['model'] == 'SmolLM2-135M-Instruct.Q4_1.gguf'
    choice = completion['choices'][0]
    assert choice['message']['role'] == 'assistant'
    assert choice['message']['content'] == own['text'] and own['text'].strip()
    assert choice['finish_reason'] == {'eog': 'stop', 'length': 'length'}[own['reason']]
    usage = completion['usage']
    assert usage['prompt_tokens'] == own['usage']['promptTokens']
    assert usage['completion_tokens'] == own['usage']['completionTokens']
    assert usage['total_tokens'] == usage['prompt_tokens'] + usage['completion_tokens']

    for chunk in chunks:
        check_shape(chunk, CHUNK, 'chunk')
        assert chunk['object'] == 'chat.completion.chunk'
        assert chunk['id'] == chunks[0]['id'] and chunk['created'] == chunks[0]['created']
    assert chunks[0]['choices'][0]['delta'] == {'role': 'assistant', 'content': ''}
    streamed = ''.join(c['choices'][0]['delta'].get('content', '') for c in chunks)
    assert streamed == own['text']
    assert all(c['choices'][0]['finish_reason'] is None for c in chunks[:-1])
    last = chunks[-1]
    assert last['choices'][0]['finish_reason'] == choice['finish_reason']
    assert last['choices'][0]['delta'] == {}
    check_shape(last['usage'], USAGE, 'last chunk usage')
    assert last['usage']['completion_tokens'] == usage['completion_tokens']
    assert all(c['usage'] is None for c in chunks[:-1])


def test_stream_options_include_usage_and_early_break(warm):
    _, browser = warm
    outcome = browser.run("""
        const [messages] = args;
        const chunks = [];
        const stream = await window.lm.chat.completions.create({ messages, seed: 2, max_tokens: 6, stream: true,
                                                                 stream_options: { include_usage: true } });
        for await (const chunk of stream) chunks.push(chunk);
        // Breaking out of the loop stops the generation: the Worker is free at once.
        let count = 0;
        for await (const chunk of await window.lm.chat.completions.create({ messages, max_tokens: 500, stream: true })) {
          if (++count === 3) break;
        }
        const after = await window.lm.chat.completions.create({ messages, max_tokens: 1 });
        return { chunks, after: after.usage.completion_tokens };
    """, MESSAGES)
    chunks = outcome['chunks']
    # With include_usage, as the API does: the finish chunk, then one with empty choices and the usage.
    assert chunks[-2]['choices'][0]['finish_reason'] in FINISH_REASONS
    assert chunks[-2]['usage'] is None
    assert chunks[-1]['choices'] == []
    check_shape(chunks[-1]['usage'], USAGE, 'usage chunk')
    assert outcome['after'] == 1


@pytest.mark.only_in('chromium', reason=IN_WASM)
def test_json_schema_response_format_equals_tinylm(warm):
    _, browser = warm
    outcome = browser.run("""
        const schema = { type: 'object', properties: { name: { type: 'string' }, color: { type: 'string' } },
                         required: ['name', 'color'] };
        const messages = [{ role: 'user', content: 'Describe an apple as JSON.' }];
        const own = await window.lm.chat(messages, { responseFormat: { type: 'json_schema', schema }, seed: 4, maxTokens: 60 });
        const completion = await window.lm.chat.completions.create({ messages, seed: 4, max_tokens: 60,
          response_format: { type: 'json_schema', json_schema: { name: 'fruit', schema, strict: true } } });
        let streamed = '';
        for await (const chunk of await window.lm.chat.completions.create({ messages, seed: 4, max_tokens: 60, stream: true,
            response_format: { type: 'json_schema', json_schema: { name: 'fruit', schema } } })) streamed += chunk.choices[0]?.delta?.content ?? '';
        const object = await window.lm.chat.completions.create({ messages, seed: 4, max_tokens: 60, response_format: { type: 'json_object' } });
        return { own: own.text, completion, streamed, object: object.choices[0].message.content };
    """)
    check_shape(outcome['completion'], CHAT_COMPLETION)
    content = outcome['completion']['choices'][0]['message']['content']
    assert content == outcome['own'] == outcome['streamed']
    value = json.loads(content)
    assert isinstance(value['name'], str) and isinstance(value['color'], str)
    assert outcome['completion']['choices'][0]['finish_reason'] == 'stop'
    assert isinstance(json.loads(outcome['object']), dict)


WEATHER_TOOL = {'type': 'function', 'function': {
    'name': 'get_weather', 'description': 'Current weather in a city',
    'parameters': {'type': 'object', 'properties': {'city': {'type': 'string'}}, 'required': ['city']}}}
# The API reference's stream deltas of a tool call: the first names it, the next ones carry
# fragments of its arguments.
FIRST_CALL_DELTA = {'index': int, 'id': str, 'type': str, 'function': {'name': str, 'arguments': str}}
LATER_CALL_DELTA = {'index': int, 'function': {'arguments': str}}
# Requests SmolLM2 (greedy, no repeat penalty) answers with a call, and in text, when it may
# choose (tool_choice 'auto'). The 135M model answers most weather questions from its
# imagination, and its recommended repeat penalty (1.1) keeps it from repeating the call syntax
# the system message shows: these tests set it to 1.
WEATHER = [{'role': 'user', 'content': 'Call get_weather for Paris.'}]
CAPITAL = [{'role': 'user', 'content': 'What is the capital of France?'}]


def tool_requests(browser, messages, tool_choice, **extra):
    """The same chat request three ways: lm.chat.completions.create, its stream (with usage),
    and TinyLM's own lm.chat; seed and temperature fixed."""
    return browser.run("""
        const [messages, tools, toolChoice, extra] = args;
        const request = { messages, tools, seed: 9, temperature: 0, repeat_penalty: 1, max_tokens: 60, ...extra };
        if (toolChoice !== null) request.tool_choice = toolChoice;
        const completion = await window.lm.chat.completions.create(request);
        const chunks = [];
        for await (const chunk of await window.lm.chat.completions.create({ ...request, stream: true, stream_options: { include_usage: true } }))
          chunks.push(chunk);
        const options = { tools, seed: 9, temperature: 0, repeatPenalty: 1, maxTokens: 60 };
        if (toolChoice !== null) options.toolChoice = toolChoice;
        const own = await window.lm.chat(messages, options);
        return { completion, chunks, own: { text: own.text, reason: own.reason, toolCalls: own.toolCalls ?? null, content: own.content } };
    """, messages, [WEATHER_TOOL], tool_choice, extra)


def streamed_calls(chunks):
    """Checks every chunk's shape and the tool-call deltas' (first naming the call, then
    argument fragments); returns (content, [{id, name, arguments}]) as the stream adds up."""
    for chunk in chunks:
        check_shape(chunk, CHUNK, 'chunk')
        assert chunk['id'] == chunks[0]['id']
    content = ''
    calls = []
    for chunk in chunks[:-1]:
        delta = chunk['choices'][0]['delta']
        content += delta.get('content') or ''
        for call in delta.get('tool_calls', []):
            if 'id' in call:
                check_shape(call, FIRST_CALL_DELTA, 'first tool_calls delta')
                assert call['type'] == 'function' and call['function']['arguments'] == ''
                assert call['index'] == len(calls)
                calls.append({'id': call['id'], 'name': call['function']['name'], 'arguments': ''})
            else:
                check_shape(call, LATER_CALL_DELTA, 'tool_calls delta')
                assert set(call) == {'index', 'function'} and set(call['function']) == {'arguments'}
                calls[call['index']]['arguments'] += call['function']['arguments']
    # With include_usage: the finish chunk, then the usage chunk with empty choices.
    assert chunks[-1]['choices'] == [] and chunks[-2]['usage'] is None
    check_shape(chunks[-1]['usage'], USAGE, 'usage chunk')
    assert all(c['choices'][0]['finish_reason'] is None for c in chunks[:-2])
    return content, calls


def test_auto_calls_the_tool_and_streams_the_call_in_pieces(warm):
    _, browser = warm
    outcome = tool_requests(browser, WEATHER, 'auto')
    completion = outcome['completion']
    check_shape(completion, CHAT_COMPLETION)
    message = completion['choices'][0]['message']
    assert completion['choices'][0]['finish_reason'] == 'tool_calls'
    assert message['content'] is None
    check_shape(message['tool_calls'], [TOOL_CALL], 'tool_calls')
    assert len(message['tool_calls']) == 1
    call = message['tool_calls'][0]
    assert call['type'] == 'function' and call['function']['name'] == 'get_weather'
    assert isinstance(json.loads(call['function']['arguments'])['city'], str)
    own = outcome['own']
    assert own['reason'] == 'tool_calls'
    assert [c['function'] for c in own['toolCalls']] == [call['function']]

    content, calls = streamed_calls(outcome['chunks'])
    assert content == ''
    assert outcome['chunks'][-2]['choices'][0]['finish_reason'] == 'tool_calls'
    # More than one fragment: the arguments come as the model writes them.
    fragments = [c for c in outcome['chunks'][:-1] if any('id' not in d for d in c['choices'][0]['delta'].get('tool_calls', []))]
    assert len(fragments) > 1
    assert [(c['name'], c['arguments']) for c in calls] == [('get_weather', call['function']['arguments'])]


def test_auto_answers_in_text_when_the_model_writes_text(warm):
    _, browser = warm
    outcome = tool_requests(browser, CAPITAL, None)  # tool_choice left out: 'auto', the API's default with tools
    completion = outcome['completion']
    check_shape(completion, CHAT_COMPLETION)
    choice = completion['choices'][0]
    assert choice['finish_reason'] == 'stop'
    assert 'tool_calls' not in choice['message']
    assert isinstance(choice['message']['content'], str) and choice['message']['content'].strip()
    assert not choice['message']['content'].lstrip().startswith('{')
    own = outcome['own']
    assert own['toolCalls'] is None and own['reason'] == 'eog' and own['text'] == choice['message']['content'] == own['content']
    content, calls = streamed_calls(outcome['chunks'])
    assert calls == [] and content == choice['message']['content']
    assert outcome['chunks'][-2]['choices'][0]['finish_reason'] == 'stop'


def test_required_named_and_none_tool_choices(warm):
    _, browser = warm
    # 'required' makes the question 'auto' answers in text a call ...
    required = tool_requests(browser, CAPITAL, 'required')
    choice = required['completion']['choices'][0]
    assert choice['finish_reason'] == 'tool_calls'
    assert choice['message']['tool_calls'][0]['function']['name'] == 'get_weather'
    _, calls = streamed_calls(required['chunks'])
    assert [c['arguments'] for c in calls] == [choice['message']['tool_calls'][0]['function']['arguments']]
    # ... so does naming the function ...
    named = tool_requests(browser, CAPITAL, {'type': 'function', 'function': {'name': 'get_weather'}})
    assert named['completion']['choices'][0]['message']['tool_calls'][0]['function']['name'] == 'get_weather'
    # ... and 'none' answers the weather question in text, as without the tools.
    none = tool_requests(browser, WEATHER, 'none')
    choice = none['completion']['choices'][0]
    assert choice['finish_reason'] == 'stop' and 'tool_calls' not in choice['message']
    assert choice['message']['content'].strip()
    without = browser.run("""
        const r = await window.lm.chat.completions.create({ messages: args[0], seed: 9, temperature: 0, repeat_penalty: 1, max_tokens: 60 });
        return r.choices[0].message.content;
    """, WEATHER)
    assert choice['message']['content'] == without == none['own']['text']
    content, calls = streamed_calls(none['chunks'])
    assert calls == [] and content == without


@pytest.mark.only_in('chromium', reason=IN_WASM)
def test_a_call_and_its_result_continue_the_conversation(warm):
    _, browser = warm
    outcome = browser.run("""
        const [messages, tools] = args;
        const completion = await window.lm.chat.completions.create({ messages, tools, seed: 9, temperature: 0, repeat_penalty: 1, max_tokens: 60 });
        // The conversation goes on with the call and its result, as OpenAI code sends them.
        const call = completion.choices[0].message.tool_calls[0];
        const answer = await window.lm.chat.completions.create({ seed: 9, max_tokens: 30, messages: [...messages,
          completion.choices[0].message, { role: 'tool', tool_call_id: call.id, content: '{"temperature_c": 18, "sky": "cloudy"}' }] });
        return answer;
    """, WEATHER, [WEATHER_TOOL])
    check_shape(outcome, CHAT_COMPLETION)
    assert outcome['choices'][0]['message']['content'].strip()


def test_text_completion_equals_generate(warm):
    _, browser = warm
    outcome = browser.run("""
        const own = await window.lm.generate('Once upon a time', { seed: 5, temperature: 0.9, maxTokens: 16 });
        const completion = await window.lm.completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: 'Once upon a time',
                                                                seed: 5, temperature: 0.9 });
        const chunks = [];
        for await (const chunk of await window.lm.completions.create({ prompt: 'Once upon a time', seed: 5, temperature: 0.9, stream: true }))
          chunks.push(chunk);
        return { own: own.text, completion, chunks };
    """)
    completion = outcome['completion']
    check_shape(completion, TEXT_COMPLETION)
    assert completion['object'] == 'text_completion' and completion['id'].startswith('cmpl-')
    # The API's default max_tokens for completions is 16.
    assert completion['usage']['completion_tokens'] == 16
    assert completion['choices'][0]['text'] == outcome['own']
    assert completion['choices'][0]['finish_reason'] == 'length'
    for chunk in outcome['chunks']:
        check_shape(chunk, TEXT_COMPLETION, 'chunk')
    assert ''.join(c['choices'][0]['text'] for c in outcome['chunks']) == outcome['own']
    assert outcome['chunks'][-1]['choices'][0]['finish_reason'] == 'length'
    check_shape(outcome['chunks'][-1]['usage'], USAGE, 'last chunk usage')


@pytest.mark.only_in('chromium', reason=IN_WASM)
def test_embeddings_equal_the_embedder(warm):
    _, browser = warm
    outcome = browser.run("""
        let missing;
        try { await window.lm.embeddings.create({ input: 'x' }); } catch (error) {
          missing = { name: error.name, type: error.type, code: error.code };
        }
        const embedder = window.lm.embedder ?? await window.lm.loadEmbedder('/models/all-MiniLM-L6-v2.gguf');
        const texts = ['Paris is the capital of France.', 'Bread is baked.'];
        const own = await embedder.embed(texts);
        const floats = await window.lm.embeddings.create({ model: 'text-embedding-3-small', input: texts });
        const encoded = await window.lm.embeddings.create({ input: texts[0], encoding_format: 'base64' });
        return { missing, own: own.map((v) => Array.from(v)), floats, encoded };
    """)
    if outcome['missing'] is not None:  # (an earlier run in this browser may have loaded it)
        assert outcome['missing'] == {'name': 'InvalidStateError', 'type': 'invalid_request_error', 'code': 'model_not_found'}
    floats = outcome['floats']
    check_shape(floats, {'object': str, 'data': [{'object': str, 'index': int, 'embedding': list}], 'model': str,
                         'usage': {'prompt_tokens': int, 'total_tokens': int}})
    assert floats['object'] == 'list' and [d['index'] for d in floats['data']] == [0, 1]
    assert all(d['object'] == 'embedding' for d in floats['data'])
    for data, own in zip(floats['data'], outcome['own']):
        assert len(data['embedding']) == 384
        assert data['embedding'] == pytest.approx(own, abs=0)
    assert floats['usage']['prompt_tokens'] > 0
    raw = base64.b64decode(outcome['encoded']['data'][0]['embedding'])
    assert list(struct.unpack(f'<{len(raw) // 4}f', raw)) == pytest.approx(outcome['own'][0], abs=0)


def test_mistyped_options_are_errors(warm):
    _, browser = warm
    def error_of(body):
        with pytest.raises(JSError) as info:
            browser.run(body)
        return info.value
    own = error_of("await window.lm.generate('Hi', { temprature: 0, maxTokens: 2 });")
    assert own.name == 'InvalidArgumentError'
    assert "'temprature'" in own.message and "did you mean 'temperature'" in own.message
    chat = error_of("await window.lm.chat([{ role: 'user', content: 'Hi' }], { maxToken: 2 });")
    assert chat.name == 'InvalidArgumentError' and "did you mean 'maxTokens'" in chat.message
    wrong_type = error_of("await window.lm.generate('Hi', { maxTokens: '2' });")
    assert wrong_type.name == 'InvalidArgumentError' and "'maxTokens' must be a whole number" in wrong_type.message
    load = error_of("const { TinyLM } = await import('/tinylm.js'); await TinyLM.load('/models/x.gguf', { onProgres: () => {} });")
    assert load.name == 'InvalidArgumentError' and "did you mean 'onProgress'" in load.message

    # The OpenAI-shaped call: TinyLM's name, the API's error fields.
    fields = browser.run("""
        try {
          await window.lm.chat.completions.create({ messages: [{ role: 'user', content: 'Hi' }], max_tokns: 2 });
          return null;
        } catch (error) {
          return { name: error.name, message: error.message, type: error.type, code: error.code, param: error.param,
                   status: error.status, error: error.error };
        }
    """)
    assert fields['name'] == 'InvalidArgumentError'
    assert fields['type'] == 'invalid_request_error' and fields['code'] == 'unknown_parameter'
    assert fields['param'] == 'max_tokns' and fields['status'] == 400
    assert "did you mean 'max_tokens'" in fields['message']
    assert fields['error'] == {'message': fields['message'], 'type': 'invalid_request_error', 'param': 'max_tokns',
                               'code': 'unknown_parameter'}
    unsupported = browser.run("""
        try { await window.lm.chat.completions.create({ messages: [{ role: 'user', content: 'Hi' }], n: 2 }); }
        catch (error) { return [error.name, error.code, error.param]; }
    """)
    assert unsupported == ['InvalidArgumentError', 'unsupported_value', 'n']

    # The Worker checks the same table: a request that bypasses the page's check fails there too.
    worker = browser.run("""
        return await new Promise((resolve) => {
          const id = 1e9;
          const listener = ({ data }) => {
            if (data.id !== id || (data.type !== 'result' && data.type !== 'error')) return;
            window.lm.worker.removeEventListener('message', listener);
            resolve(data);
          };
          window.lm.worker.addEventListener('message', listener);
          window.lm.worker.postMessage({ id, type: 'generate', prompt: 'Hi', options: { maxTokens: 2, topk: 3 } });
        });
    """)
    assert worker['type'] == 'error'
    assert worker['error']['name'] == 'InvalidArgumentError'
    assert worker['error']['option'] == 'topk' and worker['error']['suggestion'] == 'topK'
    # Nothing was dropped or broken: the model still answers.
    assert browser.run("return (await window.lm.generate('Hi', { maxTokens: 1 })).tokens.length;") == 1


def test_openai_example_page_runs_client_code(warm):
    server, browser = warm
    browser.get(f'{server.url}/examples/openai.html')
    browser.wait_for("!document.getElementById('run').disabled", timeout=180)
    browser.driver.find_element('id', 'run').click()
    assert browser.wait_for('document.body.dataset.done', timeout=240) == 'ok'
    text = {name: browser.driver.find_element('id', name).text for name in ('answer', 'streamed', 'tool', 'structured')}
    assert text['answer'].strip()
    assert text['streamed'].strip() == text['answer'].strip()  # the same seed, streamed
    assert text['tool'].startswith('opening_hours(')
    assert set(json.loads(text['structured'])) == {'bread', 'grain'}
