"""Manifest texts for the fuzzer: valid manifests (made by `tinylm manifest create`, signed and
unsigned) taken apart — wrong and huge values, missing and extra members, signatures bent,
names and versions at their byte limits — and re-spelled: key order, whitespace, escapes and
number forms changed (which must not change the canonical bytes or break the signature),
duplicate keys, byte-order marks, invalid UTF-8, truncation and corruption."""

import json
import random

HUGE_NUMBERS = ['9007199254740991', '9007199254740992', '9007199254740993', '18446744073709551616', '1e400', '-1e400',
                '1.5', '-0', '-0.0', '1e2', '1E+2', '100.0', '0.1e1', '123456789012345678901234567890', '4.5e-1']


def _layout_only(rng, value):
    """The same JSON value spelled differently: key order, whitespace, escapes, number forms."""
    def spell(v, depth=0):
        pad = rng.choice(['', ' ', '\n', '\t', '\r\n  '])
        if isinstance(v, dict):
            items = list(v.items())
            rng.shuffle(items)
            return '{' + pad + (',' + pad).join(f'{spell(k)}{pad}:{pad}{spell(x, depth + 1)}' for k, x in items) + pad + '}'
        if isinstance(v, list):
            return '[' + pad + (',' + pad).join(spell(x, depth + 1) for x in v) + pad + ']'
        if isinstance(v, str):
            text = json.dumps(v, ensure_ascii=rng.random() < 0.5)
            if rng.random() < 0.3 and len(v) > 0:
                # escape one ASCII letter or slash needlessly
                i = rng.randrange(len(v))
                ch = v[i]
                if ch.isascii() and ch not in '"\\' and ord(ch) >= 0x20:
                    inner = json.dumps(v[:i])[1:-1] + (f'\\u{ord(ch):04x}' if ch != '/' or rng.random() < 0.5 else '\\/') + json.dumps(v[i + 1:])[1:-1]
                    text = f'"{inner}"'
            return text
        if isinstance(v, bool) or v is None:
            return json.dumps(v)
        if isinstance(v, int):
            return rng.choice([str(v), str(v), f'{v}.0', f'{v}e0', f'{v * 10}e-1' if abs(v) < 10**15 else str(v)])
        return json.dumps(v)
    return spell(value)


class ManifestMutator:
    def __init__(self, bases):
        """bases: list of (text, file path the manifest describes)."""
        self.bases = [(json.loads(text), text, path) for text, path in bases]

    def case(self, rng: random.Random):
        """(text bytes, file path, whether the canonical bytes must equal the base's, description)."""
        base, text, path = rng.choice(self.bases)
        roll = rng.random()
        if roll < 0.15:
            return _layout_only(rng, base).encode(), path, base, 'respelled'
        if roll < 0.75:
            value = json.loads(text)
            notes = []
            for _ in range(rng.randint(1, 3)):
                notes.append(self._change(rng, value))
            try:
                body = json.dumps(value, ensure_ascii=rng.random() < 0.5, indent=rng.choice([None, 2]))
            except ValueError:
                body = json.dumps(value, ensure_ascii=True)
            return self._encode(body), path, None, '; '.join(notes)
        return self._corrupt_text(rng, text), path, None, 'text corrupted'

    @staticmethod
    def _encode(body):
        # Lone surrogates survive only as invalid UTF-8 (ED A0 80 …): a case of its own.
        return body.encode('utf-8', 'surrogatepass')

    def _change(self, rng, m):
        key = rng.choice(['size', 'chunkSize', 'chunks', 'formatVersion', 'format', 'name', 'version', 'sha256',
                          'signature', 'extra', 'remove', 'huge'])
        if key == 'size':
            size = m.get('size') if type(m.get('size')) is int else 0
            chunk = m.get('chunkSize') if type(m.get('chunkSize')) is int else 0
            m['size'] = rng.choice([0, -1, 1, size + 1, size - 1, 2**53 - 1, 2**53, 2**63, 2**64, 1.5, '100', None, True, size + chunk])
        elif key == 'chunkSize':
            m['chunkSize'] = rng.choice([0, 1, 63, 64, 65, 96, 128, 2**30, 2**30 + 64, 2**31, -64, 4194304.0, '65536', None])
        elif key == 'chunks':
            chunks = m.get('chunks')
            if isinstance(chunks, list) and chunks:
                op = rng.randrange(6)
                if op == 0:
                    chunks.pop()
                elif op == 1:
                    chunks.append(chunks[0])
                elif op == 2:
                    chunks[rng.randrange(len(chunks))] = rng.choice(['', 'A' * 64, 'g' * 64, '0' * 63, '0' * 65, None, 7, ['x']])
                elif op == 3:
                    # An earlier change may have left a non-string entry: that one becomes a wrong hash.
                    source = chunks[rng.randrange(len(chunks))]
                    chunks[rng.randrange(len(chunks))] = source.upper() if isinstance(source, str) else 'A' * 64
                elif op == 4:
                    m['chunks'] = []
                else:
                    m['chunks'] = {'0': chunks[0]}
            else:
                m['chunks'] = rng.choice([[], None, 'x'])
        elif key == 'formatVersion':
            m['formatVersion'] = rng.choice([0, 2, '1', 1.0, -1, None, 2**53])
        elif key == 'format':
            m['format'] = rng.choice(['TinyLM-manifest', 'tinylm-manifest ', 'tinylm-manifes', '', None, 1])
        elif key == 'name':
            m['name'] = rng.choice(['', '.', '..', 'a/b', 'a\\b', 'x' * 255, 'x' * 256, 'é' * 127, 'é' * 128, '\x00', '\x7f', '\x1f',
                                    'ok name ✓', '\ud800', '\udc00x', '😀' * 63, '😀' * 64, 7, None])
        elif key == 'version':
            m['version'] = rng.choice(['', 'v' * 128, 'v' * 129, 'é' * 64, 'é' * 65, '1.0', 1, None, '\n'])
        elif key == 'sha256':
            digest = m.get('sha256') if isinstance(m.get('sha256'), str) else '0' * 64
            m['sha256'] = rng.choice([digest.upper(), digest[:-1], digest + '0', 'z' * 64, None, 0])
        elif key == 'signature':
            signature = m.get('signature')
            good = signature if isinstance(signature, dict) else {'algorithm': 'Ed25519', 'value': '0' * 128}
            m['signature'] = rng.choice([
                None, {}, [], 'sig', dict(good, algorithm='ed25519'), dict(good, algorithm='Ed448'),
                dict(good, value=good.get('value', '')[:-2]), dict(good, value=str(good.get('value', '')).upper()),
                dict(good, value='0' * 128), dict(good, publicKey='1' * 64), dict(good, publicKey='zz'),
                dict(good, publicKey=None), dict(good, extra={'a': [1, 2]}), dict(good, value=('ab' * 64)),
            ])
            if m['signature'] is None and rng.random() < 0.5:
                del m['signature']
        elif key == 'extra':
            name = rng.choice(['note', 'kind', '__proto__', 'constructor', 'toString', '', 'clé', 'signature2', 'Z', 'a' * 100])
            depth = rng.choice([1, 14, 15, 16])
            deep = []
            for _ in range(depth):
                deep = [deep]
            m[name] = rng.choice([1.5, 2**53, -2**53 + 1, 'text \x01 \u2028 "q" \\ 😀', None, True, deep, {'nested': {'b': 1, 'a': 2}},
                                  list(range(50)), '\ud800'])
        elif key == 'remove':
            if m:
                del m[rng.choice(list(m))]
        else:
            # Huge but consistent: many tiny chunks (a big text, every count right).
            count = rng.choice([1000, 20000, 200000])
            m['chunkSize'] = 64
            m['size'] = count * 64 - rng.randrange(64)
            m['chunks'] = ['ab' * 32] * count
        return key

    @staticmethod
    def _corrupt_text(rng, text):
        data = bytearray(text.encode())
        roll = rng.random()
        if roll < 0.1:
            return b'\xef\xbb\xbf' + bytes(data)
        if roll < 0.2:
            return bytes(data[:rng.randrange(len(data))])
        if roll < 0.3:
            return bytes(data) + rng.choice([b'x', b' {}', b'\x00', b'\n\n'])
        if roll < 0.4:
            # A duplicate key, before or after the real one (the last one counts).
            key = rng.choice([b'"size"', b'"name"', b'"version"', b'"chunkSize"', b'"signature"'])
            at = data.find(key)
            if at >= 0:
                data[at:at] = key + b': ' + rng.choice([b'0', b'"x"', b'64', b'null', b'{"algorithm": "Ed25519", "value": "' + b'0' * 128 + b'"}']) + b', '
            return bytes(data)
        if roll < 0.5:
            at = data.find(b'"size"')
            if at >= 0:
                end = data.find(b',', at)
                data[at:end] = b'"size": ' + rng.choice(HUGE_NUMBERS).encode()
            return bytes(data)
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(len(data))
            choice = rng.random()
            if choice < 0.3:
                del data[at:at + rng.randint(1, 5)]
            elif choice < 0.6:
                data[at:at] = rng.choice([b'"', b'{', b'}', b'[', b']', b',', b':', b'\\', b'\\u', b'\\ud800', b'\xff', b'\xc3', b'\x00', b'1e9999'])
            else:
                data[at] = rng.randrange(256)
        return bytes(data)
