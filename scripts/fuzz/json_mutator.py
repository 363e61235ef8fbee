"""Untrusted JSON a page hands the engine next to a model: generation options (sampling
values, stop strings, GBNF grammars, JSON schemas, tools) and chat requests (messages, tools,
a custom template). Valid documents are taken apart: values set to edge cases, types swapped,
containers nested deep, hostile grammars and schemas swapped in, and sometimes the text
itself corrupted byte by byte."""

import json

from gguf_mutator import OPTION_BASES, HOSTILE_GRAMMARS, HOSTILE_SCHEMAS, HOSTILE_TEMPLATES

EDGE_VALUES = [0, -1, 1, 2**31, 2**53, 2**63, -2**63, 1e308, -1e308, 1e-320, 0.5, 1e9, '', 'x', None, True, False, [], {},
               'a' * 2000, '\ud800'.encode('utf-8', 'surrogatepass').decode('utf-8', 'replace'), '<|im_end|>']

MESSAGES = [
    [{'role': 'user', 'content': 'hello world'}],
    [{'role': 'system', 'content': 'Be brief.'}, {'role': 'user', 'content': 'Name a color.'},
     {'role': 'assistant', 'content': 'Blue.'}, {'role': 'user', 'content': 'Another'}],
    [{'role': 'user', 'content': ''}],
    [],
]


def _mutate_value(rng, value, depth=0):
    if depth > 6:
        return value
    if isinstance(value, dict) and value and rng.random() < 0.8:
        key = rng.choice(list(value))
        copy = dict(value)
        roll = rng.random()
        if roll < 0.5:
            copy[key] = _mutate_value(rng, copy[key], depth + 1)
        elif roll < 0.7:
            copy[key] = rng.choice(EDGE_VALUES)
        elif roll < 0.8:
            del copy[key]
        else:
            copy[rng.choice(['temperature', 'topK', 'grammar', 'jsonSchema', 'tools', 'stop', 'seed', 'maxTokens',
                             'unknown', 'toolChoice', 'toolCallFormat', 'json'])] = rng.choice(EDGE_VALUES)
        return copy
    if isinstance(value, list) and value and rng.random() < 0.8:
        copy = list(value)
        index = rng.randrange(len(copy))
        copy[index] = _mutate_value(rng, copy[index], depth + 1) if rng.random() < 0.6 else rng.choice(EDGE_VALUES)
        if rng.random() < 0.2:
            copy *= rng.choice([2, 50])
        return copy
    if isinstance(value, str) and rng.random() < 0.5:
        text = list(value)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(text) + 1)
            text[at:at] = rng.choice(['(', ')', '[', ']', '|', '*', '+', '?', '{', '}', '"', '\\', '::=', '\n', '^', '-', '\u00e9', '\U0001F600'])
        return ''.join(text)
    return rng.choice(EDGE_VALUES)


def _corrupt(rng, text):
    data = bytearray(text)
    for _ in range(rng.randint(1, 5)):
        if not data:
            break
        at = rng.randrange(len(data))
        roll = rng.random()
        if roll < 0.4:
            del data[at:at + rng.randint(1, 4)]
        elif roll < 0.7:
            data[at:at] = rng.choice([b'[', b'{', b'"', b',', b':', b'\\u', b'\xff', b'1e999', b'-'])
        else:
            data[at] = rng.randrange(256)
    return bytes(data)


def _deep(rng):
    depth = rng.choice([100, 127, 128, 129, 5000])
    return '[' * depth + ']' * depth


def options(rng, constraints=True):
    base = rng.choice(OPTION_BASES if constraints else [b for b in OPTION_BASES if not ({'grammar', 'json', 'jsonSchema', 'tools'} & set(b))])
    roll = rng.random()
    if constraints and roll < 0.12:
        value = dict(base, grammar=rng.choice(HOSTILE_GRAMMARS))
        value.pop('jsonSchema', None), value.pop('json', None), value.pop('tools', None)
    elif constraints and roll < 0.24:
        value = {k: v for k, v in base.items() if k not in ('grammar', 'json', 'tools')}
        value['jsonSchema'] = rng.choice(HOSTILE_SCHEMAS)
    elif roll < 0.7:
        value = _mutate_value(rng, base)
    else:
        value = base
    if not constraints and isinstance(value, dict):
        value = {k: v for k, v in value.items() if k not in ('grammar', 'json', 'jsonSchema', 'tools')}
    text = json.dumps(value, allow_nan=False).encode() if rng.random() < 0.97 else _deep(rng).encode()
    return _corrupt(rng, text) if rng.random() < 0.08 else text


def chat_request(rng, templates):
    request = {'messages': rng.choice(MESSAGES), 'addGenerationPrompt': rng.random() < 0.9}
    roll = rng.random()
    if roll < 0.15:
        request['template'] = rng.choice(HOSTILE_TEMPLATES + templates)
    elif roll < 0.25:
        request['tools'] = [{'type': 'function', 'function': {'name': 'get', 'description': 'd', 'parameters': {'type': 'object'}}}]
    elif roll < 0.3:
        request['now'] = rng.choice([[2025, 1, 2, 3, 4, 5], [-1, 13, 40, 25, 61, 61], [2**62, 0, 0, 0, 0, 0], [1, 2]])
    if rng.random() < 0.4:
        request = _mutate_value(rng, request)
    text = json.dumps(request, allow_nan=False).encode()
    return _corrupt(rng, text) if rng.random() < 0.05 else text
