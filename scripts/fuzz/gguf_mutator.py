"""Mutations of a GGUF file, aimed by its layout (gguf_layout.py): each case is a few edits
(offset, bytes deleted, bytes inserted) against the original file, so a worker can apply them
to its copy in place or by rebuilding only the header, without the driver shipping files.

Kinds of mutation: numbers of every field set to edge values (counts, lengths, type tags,
dimensions, offsets, metadata values of every type), metadata values replaced by values of
another type, entries and tensor infos removed, duplicated or renamed, array elements and
counts changed, strings replaced (invalid UTF-8, duplicates, other keys' names), the chat
template swapped for hostile ones, tensor data overwritten (NaN, Inf, random), raw bit flips,
byte insertions and deletions, truncation and trailing junk. "Consistent" edits also fix the
counts and the padding before the tensor data, so that the file still parses and the change
reaches the loader, tokenizer and forward pass rather than stopping at the first length check.
"""

import struct

from gguf_layout import (U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64,
                         FIXED_SIZE, SCALAR_FORMAT)

# Keys the loader reads (ARCH is replaced by the file's architecture).
IMPORTANT_KEYS = [
    'general.architecture', 'general.alignment', 'general.name',
    'ARCH.context_length', 'ARCH.embedding_length', 'ARCH.block_count', 'ARCH.feed_forward_length',
    'ARCH.attention.head_count', 'ARCH.attention.head_count_kv', 'ARCH.attention.key_length',
    'ARCH.attention.value_length', 'ARCH.attention.layer_norm_rms_epsilon', 'ARCH.rope.freq_base',
    'ARCH.rope.dimension_count', 'ARCH.rope.scaling.factor', 'ARCH.rope.scaling.type', 'ARCH.vocab_size',
    'ARCH.attention.sliding_window', 'ARCH.attention.query_pre_attn_scalar', 'ARCH.final_logit_softcapping',
    'tokenizer.ggml.model', 'tokenizer.ggml.pre', 'tokenizer.ggml.tokens', 'tokenizer.ggml.token_type',
    'tokenizer.ggml.scores', 'tokenizer.ggml.merges', 'tokenizer.ggml.bos_token_id', 'tokenizer.ggml.eos_token_id',
    'tokenizer.ggml.eot_token_id', 'tokenizer.ggml.eom_token_id', 'tokenizer.ggml.unknown_token_id',
    'tokenizer.ggml.seperator_token_id', 'tokenizer.ggml.padding_token_id', 'tokenizer.ggml.mask_token_id',
    'tokenizer.ggml.fim_pre_token_id', 'tokenizer.ggml.fim_suf_token_id', 'tokenizer.ggml.fim_mid_token_id',
    'tokenizer.ggml.prefix_token_id', 'tokenizer.ggml.add_bos_token', 'tokenizer.ggml.add_eos_token',
    'tokenizer.ggml.add_space_prefix', 'tokenizer.chat_template',
]
ARCHITECTURES = ['llama', 'qwen2', 'gemma3', 'gemma2', 'mistral', 'phi3', '', 'llama\0', 'LLAMA']
TOKENIZER_MODELS = ['gpt2', 'llama', 'bert', 't5', 'none', '']
PRE_TOKENIZERS = ['default', 'gpt-2', 'smollm', 'starcoder', 'llama-bpe', 'llama3', 'qwen2', 'dbrx', 'deepseek-llm', '']
TENSOR_TYPES = list(range(0, 42)) + [0x7FFFFFFF, 0xFFFFFFFF]
MAX_GROWTH = 8 << 20

HOSTILE_TEMPLATES = [
    "{% for i in range(1000000000) %}x{% endfor %}",
    "{{ 'a' * 1000000000 }}",
    "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
    "{% set x = namespace(a=[]) %}{% for i in range(100000) %}{% set x.a = x.a + x.a + [i] %}{% endfor %}{{ x.a|length }}",
    "{{ messages[0]['content'][::-1] * 99999999 }}",
    "{% for m in messages %}{% for n in messages %}{% for o in messages %}{{ m.content ~ n.content ~ o.content }}{% endfor %}{% endfor %}{% endfor %}",
    "{{ (((((((((((((((((((((((((((((((((1))))))))))))))))))))))))))))))))) }}",
    "{% if %}",
    "{{ raise_exception('no') }}",
    "{% for message in messages %}{{ message['content'] | tojson(indent=1000000) }}{% endfor %}",
    "{{ range(10**18) | list | length }}",
    "{{ 9999999999999999999999999 * 99999999999999999999 }}",
    "{{ '%s' % ('x' * 1000) }}{{ [1,2,3] | join('x' * 100000000) }}",
    "{%- for m in messages -%}{{ m.content | replace('', 'abc') }}{%- endfor -%}",
    "{{ messages | map(attribute='content') | map('upper') | join }}{{ strftime_now('%Y') }}",
    "",
    "{{",
    "{% raw %}",
    "\xff\xfe{{ bos_token }}",
]
OPTION_BASES = [
    {}, {'temperature': 0}, {'temperature': 0.8, 'topK': 40, 'topP': 0.9, 'minP': 0.05, 'seed': 7, 'maxTokens': 4},
    {'repeatPenalty': 1.3, 'repeatWindow': 64, 'seed': 3}, {'stop': ['a', '\n', ''], 'ignoreEOS': True},
    {'json': True}, {'grammar': 'root ::= [a-z]+ ("," [a-z]+)*'}, {'grammar': 'root ::= "he" "llo"? | [0-9]{1,3}'},
    {'jsonSchema': {'type': 'object', 'properties': {'a': {'type': 'integer'}, 'b': {'type': 'string', 'maxLength': 3}}, 'required': ['a']}},
    {'jsonSchema': {'type': 'array', 'items': {'enum': ['x', 1, None]}, 'minItems': 1}},
    {'tools': [{'type': 'function', 'function': {'name': 'f', 'parameters': {'type': 'object', 'properties': {'q': {'type': 'string'}}}}}]},
]
HOSTILE_GRAMMARS = [
    'root ::= root', 'root ::= a\na ::= b\nb ::= a', 'root ::= "x"{1000000000}', 'root ::= [^]*',
    'root ::= ' + '(' * 5000 + '"a"' + ')' * 5000, 'root ::= "\\u{110000}"', 'root ::= [\\U0010FFFF-\\x00]',
    'root ::= "a"* "a"* "a"* "a"* "a"* "a"*', 'root ::= x{2,1}', 'root ::= ' + ' | '.join(f'"{i}"' for i in range(3000)),
]
HOSTILE_SCHEMAS = [
    {'type': 'string', 'minLength': 1000000000}, {'type': 'array', 'minItems': 2**31, 'items': {}},
    {'$ref': '#'}, {'$defs': {'a': {'$ref': '#/$defs/a'}}, '$ref': '#/$defs/a'},
    {'type': 'integer', 'minimum': 1e308, 'maximum': -1e308}, {'pattern': '(a|b)*c{0,99999}'},
    {'anyOf': [{'type': 'object', 'properties': {str(i): {'type': 'string'} for i in range(200)}, 'required': [str(i) for i in range(200)]}]},
    {'type': 'object', 'additionalProperties': {'type': 'object', 'additionalProperties': {'type': 'object'}}},
    {'enum': []}, {'type': ['string', 'null', 'number', 'boolean', 'array', 'object']}, True, False,
]


def interesting_integers(width_bits, signed, old, file_size):
    top = 1 << width_bits
    values = [0, 1, 2, 3, 4, 7, 8, 16, 31, 32, 63, 64, 255, 256, 1023, 1024, 4095, 65535, 65536,
              (1 << 31) - 1, 1 << 31, (1 << 32) - 1, 1 << 32, 1 << 40, (1 << 53) + 1, 1 << 62, (1 << 63) - 1, 1 << 63,
              top - 1, top - 2, old + 1, old - 1, old * 2, old // 2, old + 32, old - 32,
              file_size, file_size - 1, file_size + 1, file_size // 8, file_size // 24]
    if signed:
        values += [-1, -2, -(1 << 31), -(1 << (width_bits - 1))]
    return [v % top for v in values]


def encode_int(value, value_type):
    fmt = SCALAR_FORMAT[value_type]
    bits = FIXED_SIZE[value_type] * 8
    value %= 1 << bits
    if fmt[-1] in 'bhiq' and value >= 1 << (bits - 1):
        value -= 1 << bits
    return struct.pack(fmt, value)


def encode_string(data):
    return struct.pack('<Q', len(data)) + data


class Mutator:
    def __init__(self, data, layout, templates):
        self.data = data
        self.layout = layout
        self.templates = templates
        architecture = layout.entry('general.architecture')
        self.arch = 'llama'
        if architecture and architecture.string:
            s = architecture.string
            self.arch = bytes(data[s.bytes_offset:s.end]).decode('utf-8', 'replace')
        self.important = {key.replace('ARCH', self.arch) for key in IMPORTANT_KEYS}
        self.important_entries = [e for e in layout.metadata if e.key in self.important]
        # Scalars by role: vocabularies hold thousands of string lengths, which would
        # otherwise take almost every pick.
        self.scalars_by_role = {}
        for scalar in layout.scalars:
            self.scalars_by_role.setdefault(scalar.role, []).append(scalar)
        self.roles = sorted(self.scalars_by_role)
        self.operators = [
            (14, self.scalar_edge), (4, self.bit_flips), (2, self.byte_overwrite), (2, self.splice),
            (3, self.truncate_or_append), (14, self.replace_value), (5, self.remove_or_duplicate_entry),
            (3, self.rename_key), (3, self.insert_entry), (10, self.mutate_array), (9, self.mutate_tensor_info),
            (3, self.remove_or_duplicate_tensor), (6, self.mutate_data), (4, self.chat_template),
            (4, self.mutate_string),
        ]
        self.total_weight = sum(w for w, _ in self.operators)

    # --- case assembly -------------------------------------------------------------------

    def case(self, rng):
        """Edits (sorted, non-overlapping) and a description of what they do."""
        edits, notes, consistent = [], [], rng.random() < 0.7
        for _ in range(1 + (rng.random() < 0.35) + (rng.random() < 0.15)):
            for _attempt in range(8):
                pick = rng.random() * self.total_weight
                for weight, operator in self.operators:
                    pick -= weight
                    if pick < 0:
                        break
                result = operator(rng, consistent)
                # The workers keep 16 MiB of room for a header that grows (and 64 KiB at the end).
                if result and self._fits(edits, result[0]) and self._growth(edits + result[0]) <= MAX_GROWTH:
                    edits += result[0]
                    notes.append(result[1])
                    break
        if consistent:
            fix = self._padding_fix(edits)
            if fix and self._fits(edits, [fix]):
                edits.append(fix)
        edits.sort(key=lambda e: (e[0], e[1]))
        return edits, '; '.join(notes)

    @staticmethod
    def _growth(edits):
        return sum(len(i) - d for o, d, i in edits)

    @staticmethod
    def _fits(edits, new):
        for offset, delete, insert in new:
            for o, d, i in edits:
                # Overlapping ranges, or two insertions at one point, would make the order matter.
                if offset < o + max(d, 1) and o < offset + max(delete, 1):
                    return False
        return True

    def _padding_fix(self, edits):
        """Re-pads the header so the tensor data keeps its offsets after header edits."""
        layout = self.layout
        delta = sum(len(i) - d for o, d, i in edits if o + d <= layout.header_end)
        if delta == 0 or any(o < layout.data_offset < o + d for o, d, _ in edits):
            return None
        alignment = layout.alignment if 0 < layout.alignment <= 1 << 20 else 32
        new_end = layout.header_end + delta
        padding = (-new_end) % alignment
        return (layout.header_end, layout.data_offset - layout.header_end, b'\0' * padding)

    # --- operators: each returns (edits, note) or None -----------------------------------------

    def scalar_edge(self, rng, consistent):
        field = rng.choice(self.scalars_by_role[rng.choice(self.roles)])
        old = struct.unpack_from(SCALAR_FORMAT[field.type], self.data, field.offset)[0]
        if field.type in (F32, F64):
            value = rng.choice([float('nan'), float('inf'), -float('inf'), 0.0, -0.0, 1e-45, 3.4e38, -1.0, 1e10, 1e-30, 65504.0])
            raw = struct.pack(SCALAR_FORMAT[field.type], value)
        else:
            bits = FIXED_SIZE[field.type] * 8
            signed = field.type in (I8, I16, I32, I64)
            if field.role in ('value type', 'array element type'):
                value = rng.choice(list(range(14)) + [0xFFFFFFFF, 0x80000000])
            elif field.role == 'tensor type':
                value = rng.choice(TENSOR_TYPES)
            else:
                value = rng.choice(interesting_integers(bits, signed, int(old), self.layout.size))
            raw = encode_int(value, field.type)
        return [(field.offset, len(raw), raw)], f'{field.role} @{field.offset} = {raw.hex()}'

    def bit_flips(self, rng, consistent):
        end = self.layout.header_end if rng.random() < 0.85 else self.layout.size
        edits, seen = [], set()
        for _ in range(rng.randint(1, 8)):
            offset = rng.randrange(0, end)
            if offset in seen:
                continue
            seen.add(offset)
            edits.append((offset, 1, bytes([self.data[offset] ^ (1 << rng.randrange(8))])))
        return edits, f'{len(edits)} bit flips'

    def byte_overwrite(self, rng, consistent):
        count = rng.randint(1, 16)
        offset = rng.randrange(0, max(1, self.layout.header_end - count))
        raw = bytes(rng.choice([0, 0xFF, 0x7F, 0x80, rng.randrange(256)]) for _ in range(count))
        return [(offset, count, raw)], f'{count} bytes @{offset} overwritten'

    def splice(self, rng, consistent):
        offset = rng.randrange(0, self.layout.header_end)
        if rng.random() < 0.5:
            raw = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
            return [(offset, 0, raw)], f'{len(raw)} bytes inserted @{offset}'
        count = rng.randint(1, min(64, self.layout.header_end - offset))
        return [(offset, count, b'')], f'{count} bytes deleted @{offset}'

    def truncate_or_append(self, rng, consistent):
        size = self.layout.size
        if rng.random() < 0.25:
            junk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4096)))
            return [(size, 0, junk)], f'{len(junk)} bytes appended'
        if rng.random() < 0.6:
            cut = rng.randrange(0, self.layout.header_end + 1)
        else:
            cut = rng.randrange(self.layout.header_end, size)
        return [(cut, size - cut, b'')], f'truncated to {cut} bytes'

    def _value_bytes(self, rng, depth=0):
        """A random metadata value: (type tag, encoded value)."""
        kind = rng.randrange(13)
        if kind in FIXED_SIZE:
            if kind in (F32, F64):
                value = rng.choice([0.0, 1.0, -1.0, 1e-5, 1e6, float('nan'), float('inf'), -float('inf'), 3.4e38])
                return kind, struct.pack(SCALAR_FORMAT[kind], value)
            if kind == BOOL:
                return kind, bytes([rng.choice([0, 1, 2, 0xFF])])
            bits = FIXED_SIZE[kind] * 8
            return kind, encode_int(rng.choice(interesting_integers(bits, kind in (I8, I16, I32, I64), 8, self.layout.size)), kind)
        if kind == STRING:
            return kind, encode_string(self._string_value(rng))
        element = rng.choice([U8, I32, F32, BOOL, STRING, U64, ARRAY] if depth < 3 else [U8, I32, STRING])
        count = rng.choice([0, 1, 2, 3, 17])
        body = b''
        for _ in range(count):
            if element == ARRAY:
                sub_type, sub = self._value_bytes(rng, depth + 1)
                body += sub if sub_type == ARRAY else struct.pack('<IQ', U8, 0)
            elif element == STRING:
                body += encode_string(self._string_value(rng))
            elif element == BOOL:
                body += bytes([rng.choice([0, 1, 1, 2])])
            elif element in (F32,):
                body += struct.pack('<f', rng.choice([0.0, -1.0, float('nan'), 1e30]))
            else:
                body += encode_int(rng.choice(interesting_integers(FIXED_SIZE[element] * 8, element == I32, 1, 100)), element)
        claimed = count if rng.random() < 0.85 else rng.choice([count + 1, 1 << 40, (1 << 64) - 1, 1 << 31])
        return ARRAY, struct.pack('<IQ', element, claimed) + body

    def _string_value(self, rng):
        return rng.choice([
            b'', b'llama', b'gemma3', b'gpt2', b'smollm', b'\xff\xfe\xfd', b'\xc3', b'\xed\xa0\x80', b'a' * 300,
            b'<|im_start|>', b'\x00', rng.choice(ARCHITECTURES).encode(), rng.choice(PRE_TOKENIZERS).encode(),
            bytes(rng.randrange(256) for _ in range(rng.randint(1, 40))),
        ])

    def _semantic_value(self, rng, entry):
        """A plausible-but-wrong value for an important key."""
        key = entry.key
        if key == 'general.architecture':
            return STRING, encode_string(rng.choice(ARCHITECTURES).encode())
        if key == 'tokenizer.ggml.model':
            return STRING, encode_string(rng.choice(TOKENIZER_MODELS).encode())
        if key == 'tokenizer.ggml.pre':
            return STRING, encode_string(rng.choice(PRE_TOKENIZERS).encode())
        if key == 'general.alignment':
            return U32, encode_int(rng.choice([0, 1, 2, 3, 8, 16, 64, 128, 4096, 1 << 20, (1 << 20) + 1, 1 << 31, 0xFFFFFFFF]), U32)
        if key == 'tokenizer.chat_template':
            return STRING, encode_string(rng.choice(HOSTILE_TEMPLATES + self.templates).encode('utf-8', 'surrogateescape'))
        value_type = rng.choice([U32, I32, U64, I64, F32, U8, BOOL])
        if value_type in (F32,):
            return F32, struct.pack('<f', rng.choice([0.0, -1.0, 1e-12, 0.5, 1e30, float('nan'), float('inf')]))
        tokens = self.layout.entry('tokenizer.ggml.tokens')
        vocabulary = tokens.array.count if tokens and tokens.array else 100
        value = rng.choice([0, 1, 2, 3, 4, 6, 7, 8, 63, 64, 65, 128, 255, 256, 1023, 1024, 1025, 65536, 65537,
                            vocabulary - 1, vocabulary, vocabulary + 1, (1 << 31) - 1, 1 << 31, (1 << 32) - 1, 1 << 33,
                            -1, -2, (1 << 63) - 1])
        return value_type, encode_int(value, value_type)

    def replace_value(self, rng, consistent):
        if self.important_entries and rng.random() < 0.75:
            entry = rng.choice(self.important_entries)
            value_type, raw = self._semantic_value(rng, entry) if rng.random() < 0.7 else self._value_bytes(rng)
        else:
            entry = rng.choice(self.layout.metadata)
            value_type, raw = self._value_bytes(rng)
        edit_start = entry.type_offset
        replacement = struct.pack('<I', value_type) + raw
        return [(edit_start, entry.end - edit_start, replacement)], f'{entry.key} := type {value_type}, {raw[:24].hex()}'

    def _count_edit(self, offset, delta, consistent):
        old = struct.unpack_from('<Q', self.data, offset)[0]
        return [(offset, 8, struct.pack('<Q', (old + delta) % (1 << 64)))] if consistent else []

    def remove_or_duplicate_entry(self, rng, consistent):
        entry = rng.choice(self.important_entries if self.important_entries and rng.random() < 0.7 else self.layout.metadata)
        raw = bytes(self.data[entry.start:entry.end])
        if rng.random() < 0.5:
            return [(entry.start, entry.end - entry.start, b'')] + self._count_edit(self.layout.metadata_count_offset, -1, consistent), \
                f'metadata {entry.key} removed'
        return [(entry.end, 0, raw)] + self._count_edit(self.layout.metadata_count_offset, 1, consistent), f'metadata {entry.key} duplicated'

    def rename_key(self, rng, consistent):
        entry = rng.choice(self.layout.metadata)
        new = rng.choice(sorted(self.important) + ['', 'x' * 300, 'general.alignment']).encode()
        f = entry.key_field
        return [(f.offset, f.end - f.offset, encode_string(new))], f'key {entry.key} renamed {new[:40]!r}'

    def insert_entry(self, rng, consistent):
        key = rng.choice(sorted(self.important)).encode()
        entry = self.layout.metadata[-1] if self.layout.metadata else None
        at = entry.end if entry else self.layout.metadata_count_offset + 8
        fake = type('E', (), {'key': key.decode()})
        value_type, raw = self._semantic_value(rng, fake) if rng.random() < 0.7 else self._value_bytes(rng)
        return [(at, 0, encode_string(key) + struct.pack('<I', value_type) + raw)] + \
            self._count_edit(self.layout.metadata_count_offset, 1, consistent), f'metadata {key.decode()} added (type {value_type})'

    def mutate_array(self, rng, consistent):
        arrays = [e for e in self.layout.metadata if e.array is not None]
        if not arrays:
            return None
        entry = rng.choice(arrays)
        array = entry.array
        choice = rng.random()
        if choice < 0.2:
            value = rng.choice(interesting_integers(64, False, array.count, self.layout.size))
            return [(array.count_offset, 8, struct.pack('<Q', value))], f'{entry.key} count = {value}'
        if choice < 0.3:
            value = rng.choice(list(range(14)) + [0xFFFFFFFF])
            return [(array.type_offset, 4, struct.pack('<I', value))], f'{entry.key} element type = {value}'
        if array.count == 0:
            return None
        if array.element_type in FIXED_SIZE:
            size = FIXED_SIZE[array.element_type]
            if choice < 0.45:
                keep = rng.choice([0, 1, array.count // 2, array.count - 1])
                start = array.elements_offset + keep * size
                return [(start, array.end - start, b''), (array.count_offset, 8, struct.pack('<Q', keep))], f'{entry.key} cut to {keep}'
            edits = []
            for index in sorted(rng.sample(range(array.count), min(array.count, rng.randint(1, 6)))):
                if array.element_type in (F32, F64):
                    raw = struct.pack(SCALAR_FORMAT[array.element_type], rng.choice([float('nan'), float('inf'), -1e30, 0.0]))
                elif array.element_type == BOOL:
                    raw = bytes([rng.choice([2, 0xFF, 1, 0])])
                else:
                    raw = encode_int(rng.choice([-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 1 << 31, 255, 1 << 62]), array.element_type)
                edits.append((array.elements_offset + index * size, size, raw))
            return edits, f'{entry.key}: {len(edits)} elements changed'
        if array.element_type == STRING:
            offsets = array.element_offsets
            if choice < 0.45:
                keep = rng.choice([0, 1, array.count // 2, array.count - 1])
                start = offsets[keep] if keep < array.count else array.end
                return [(start, array.end - start, b''), (array.count_offset, 8, struct.pack('<Q', keep))], f'{entry.key} cut to {keep}'
            if choice < 0.55:
                added = [self._string_value(rng) for _ in range(rng.randint(1, 4))]
                extra = b''.join(encode_string(text) for text in added)
                return [(array.end, 0, extra), (array.count_offset, 8, struct.pack('<Q', array.count + len(added)))], \
                    f'{entry.key}: {len(added)} strings appended'
            edits = []
            for index in sorted(rng.sample(range(array.count), min(array.count, rng.randint(1, 4)))):
                start = offsets[index]
                length = struct.unpack_from('<Q', self.data, start)[0]
                if rng.random() < 0.5:
                    other = offsets[rng.randrange(array.count)]
                    other_length = struct.unpack_from('<Q', self.data, other)[0]
                    new = bytes(self.data[other + 8:other + 8 + other_length])  # a duplicate token / merge
                else:
                    new = self._string_value(rng)
                edits.append((start, 8 + length, encode_string(new)))
            return edits, f'{entry.key}: {len(edits)} strings replaced'
        # nested arrays: change a nested count
        if array.nested:
            nested = rng.choice(array.nested)
            value = rng.choice([0, 1, 1 << 40, (1 << 64) - 1, nested.count + 1])
            return [(nested.count_offset, 8, struct.pack('<Q', value))], f'{entry.key} nested count = {value}'
        return None

    def mutate_tensor_info(self, rng, consistent):
        if not self.layout.tensors:
            return None
        tensor = rng.choice(self.layout.tensors)
        choice = rng.random()
        if choice < 0.25 and tensor.dimensions:
            offset, old = rng.choice(tensor.dimensions)
            value = rng.choice([0, 1, 2, 31, 32, 33, 256, old + 1, old - 1, old * 2, (1 << 31) - 1, 1 << 31, 1 << 32, (1 << 64) - 1])
            return [(offset, 8, struct.pack('<Q', value % (1 << 64)))], f'tensor {tensor.name} dimension = {value}'
        if choice < 0.4:
            value = rng.choice(TENSOR_TYPES)
            return [(tensor.type_offset, 4, struct.pack('<I', value))], f'tensor {tensor.name} type = {value}'
        if choice < 0.6:
            others = [t.offset for t in self.layout.tensors]
            value = rng.choice([0, 1, 16, 31, 32, tensor.offset + 32, tensor.offset - 32, rng.choice(others),
                                self.layout.size, self.layout.size - self.layout.data_offset, (1 << 63), (1 << 64) - 32])
            return [(tensor.offset_offset, 8, struct.pack('<Q', value % (1 << 64)))], f'tensor {tensor.name} offset = {value}'
        if choice < 0.7:
            value = rng.choice([0, 1, 3, 5, 0xFFFFFFFF])
            return [(tensor.dimension_count_offset, 4, struct.pack('<I', value))], f'tensor {tensor.name} dimension count = {value}'
        if choice < 0.85 and consistent:
            # A consistent reshape: swap the two dimensions or add/remove a unit dimension.
            dims = [d for _, d in tensor.dimensions]
            new_dims = dims[::-1] if rng.random() < 0.5 else dims + [1]
            start = tensor.dimension_count_offset
            body = struct.pack('<I', len(new_dims)) + b''.join(struct.pack('<Q', d) for d in new_dims)
            return [(start, tensor.type_offset - start, body)], f'tensor {tensor.name} shape {dims} -> {new_dims}'
        other = rng.choice(self.layout.tensors)
        f = tensor.name_field
        new = rng.choice([other.name.encode(), b'', tensor.name.encode() + b'x', b'output.weight', b'blk.0.attn_q.bias'])
        return [(f.offset, f.end - f.offset, encode_string(new))], f'tensor {tensor.name} renamed {new!r}'

    def remove_or_duplicate_tensor(self, rng, consistent):
        if not self.layout.tensors:
            return None
        tensor = rng.choice(self.layout.tensors)
        raw = bytes(self.data[tensor.start:tensor.end])
        if rng.random() < 0.5:
            return [(tensor.start, tensor.end - tensor.start, b'')] + self._count_edit(self.layout.tensor_count_offset, -1, consistent), \
                f'tensor {tensor.name} removed'
        return [(tensor.end, 0, raw)] + self._count_edit(self.layout.tensor_count_offset, 1, consistent), f'tensor {tensor.name} duplicated'

    def mutate_data(self, rng, consistent):
        layout = self.layout
        if layout.size <= layout.data_offset:
            return None
        edits = []
        for _ in range(rng.randint(1, 4)):
            if layout.tensors and rng.random() < 0.6:
                tensor = rng.choice(layout.tensors)
                start = layout.data_offset + tensor.offset + rng.choice([0, 0, 2, 32, 34, 64, 144, 208])
            else:
                start = rng.randrange(layout.data_offset, layout.size)
            count = rng.choice([1, 2, 4, 16, 64, 256])
            if start + count > layout.size or any(start < o + d and o < start + count for o, d, _ in edits):
                continue
            pattern = rng.choice([b'\xff', b'\x00', b'\x00\x7e', b'\x00\x7c', b'\x00\xfc', b'\x00\x00\xc0\x7f', b'\x00\x00\x80\x7f'])
            raw = (pattern * count)[:count] if rng.random() < 0.7 else bytes(rng.randrange(256) for _ in range(count))
            edits.append((start, count, raw))
        return (edits, f'{len(edits)} data ranges overwritten') if edits else None

    def chat_template(self, rng, consistent):
        entry = self.layout.entry('tokenizer.chat_template')
        template = rng.choice(HOSTILE_TEMPLATES + self.templates)
        if entry is None or entry.string is None:
            raw = encode_string(b'tokenizer.chat_template') + struct.pack('<I', STRING) + encode_string(template.encode('utf-8', 'surrogateescape'))
            at = self.layout.metadata[-1].end if self.layout.metadata else self.layout.metadata_count_offset + 8
            return [(at, 0, raw)] + self._count_edit(self.layout.metadata_count_offset, 1, consistent), 'chat template added'
        s = entry.string
        if rng.random() < 0.5:
            text = bytearray(self.data[s.bytes_offset:s.end])
            for _ in range(rng.randint(1, 6)):
                if not text:
                    break
                at = rng.randrange(len(text))
                op = rng.random()
                if op < 0.4:
                    text[at:at + rng.randint(1, 8)] = b''
                elif op < 0.8:
                    text[at:at] = rng.choice([b'{{', b'}}', b'{%', b'%}', b'(', b')', b'[', b']', b"'", b'"', b'|', b'.', b'{#', b'\xff'])
                else:
                    text[at] = rng.randrange(256)
            new = bytes(text)
        else:
            new = template.encode('utf-8', 'surrogateescape')
        return [(s.offset, s.end - s.offset, encode_string(new))], f'chat template replaced ({len(new)} bytes)'

    def mutate_string(self, rng, consistent):
        f = rng.choice(self.layout.strings)
        if rng.random() < 0.5 and f.length > 0:
            # Same length, different bytes: keeps every offset valid.
            count = rng.randint(1, min(f.length, 8))
            at = f.bytes_offset + rng.randrange(f.length - count + 1)
            raw = bytes(rng.choice([0xFF, 0xC3, 0x80, 0x00, 0xE2, rng.randrange(256)]) for _ in range(count))
            return [(at, count, raw)], f'string @{f.offset}: {count} bytes changed'
        value = rng.choice([f.length + 1, f.length - 1 if f.length else 0, 1 << 40, (1 << 64) - 1, self.layout.size, 0])
        return [(f.offset, 8, struct.pack('<Q', value % (1 << 64)))], f'string @{f.offset} length = {value}'
