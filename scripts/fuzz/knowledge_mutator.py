"""Mutations of a knowledge file (Sources/TinyLM/Knowledge/KnowledgeFile.swift's format: a
64-byte header, then vectors, int8 scales, the embedder's name, documents and chunks). Each
case is the whole mutated file (knowledge files are small, and the reader copies them anyway).

Kinds of mutation: header fields (version, vector form, dimensions, pooling, counts, name
length, reserved, payload length, fingerprint) set to edge values, the length fields and the
document index of documents and chunks set to edge values, vectors and scales overwritten
with NaN, infinities, huge or random values, strings made invalid UTF-8, bit flips, byte
insertions and deletions, truncation and trailing junk. Most cases then recompute the
checksum (and often the payload length) so that the change gets past the checksum and reaches
the parser behind it; the rest test the checksum itself.
"""

import struct

HEADER = 64
MASK32, MASK64 = 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF
EDGE_U32 = [0, 1, 2, 3, 4, 7, 255, 256, 383, 384, 385, 4096, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF]
EDGE_FLOATS = [float('nan'), float('inf'), float('-inf'), 0.0, -0.0, 3.4e38, -3.4e38, 1e-45, 1.0]


def content_hash(data):
    """ContentHash.swift's 64-bit hash, from its documented arithmetic."""
    lanes = [(0x9E3779B9 * (i + 1)) & MASK32 for i in range(8)]
    padded = bytes(data) + b'\0' * (-len(data) % 32)
    for block in range(0, len(padded), 32):
        words = struct.unpack_from('<8I', padded, block)
        for i in range(8):
            x = ((lanes[i] ^ words[i]) * 0x85EBCA77) & MASK32
            x = ((x << 13) | (x >> 19)) & MASK32
            lanes[i] = (x * 0xC2B2AE3D) & MASK32
    h = len(data)
    for lane in lanes:
        x = h ^ lane
        x ^= x >> 33
        x = (x * 0xFF51AFD7ED558CCD) & MASK64
        x ^= x >> 33
        x = (x * 0xC4CEB9FE1A85EC53) & MASK64
        x ^= x >> 33
        h = x
    return h


def with_checksum(data, fix_length):
    """The file with its checksum (and, if asked, its payload length) made to match."""
    if len(data) < HEADER:
        return data
    out = bytearray(data)
    if fix_length:
        struct.pack_into('<Q', out, 48, len(out) - HEADER)
    struct.pack_into('<Q', out, 56, content_hash(bytes(out[:56]) + bytes(out[HEADER:])))
    return bytes(out)


class Layout:
    """Where the fields of a valid knowledge file are: header fields, vectors, scales, strings, length fields."""

    def __init__(self, data):
        self.data = data
        form, dimensions, _, documents, chunks = struct.unpack_from('<5I', data, 12)
        name_length = struct.unpack_from('<I', data, 40)[0]
        row = {0: 4 * dimensions, 1: 2 * dimensions, 2: dimensions}[form]
        self.form = form
        self.dimensions = dimensions
        self.vectors = (HEADER, chunks * row)
        offset = HEADER + chunks * row
        self.scales = (offset, 4 * chunks if form == 2 else 0)
        offset += self.scales[1]
        self.strings = [(offset, name_length)]
        offset += name_length
        self.length_fields = []  # offsets of u32 lengths and indices in documents and chunks
        for _ in range(documents):
            lengths = struct.unpack_from('<3I', data, offset)
            self.length_fields += [offset + 4 * i for i in range(4)]
            offset += 16
            for n in lengths:
                self.strings.append((offset, n))
                offset += n
        for _ in range(chunks):
            _, heading, text = struct.unpack_from('<3I', data, offset)
            self.length_fields += [offset + 4 * i for i in range(3)]
            offset += 12
            for n in (heading, text):
                self.strings.append((offset, n))
                offset += n
        assert offset == len(data), 'knowledge file layout does not add up'
        self.strings = [s for s in self.strings if s[1] > 0]


class KnowledgeMutator:
    def __init__(self, files):
        self.files = [(data, Layout(data)) for data in files]
        self.operators = [
            (12, self.header_field), (10, self.length_field), (8, self.vector_values), (3, self.fingerprint),
            (5, self.bad_utf8), (5, self.bit_flips), (4, self.splice), (4, self.truncate_or_append),
        ]
        self.total = sum(w for w, _ in self.operators)

    def case(self, rng):
        """(mutated file bytes, seed index, note)."""
        index = rng.randrange(len(self.files))
        data, layout = self.files[index]
        out, notes = bytearray(data), []
        if rng.random() < 0.05:
            return bytes(out), index, 'unchanged'
        for _ in range(1 + (rng.random() < 0.3) + (rng.random() < 0.1)):
            if len(out) < HEADER:  # truncated: nothing left to aim at
                break
            pick = rng.random() * self.total
            for weight, operator in self.operators:
                pick -= weight
                if pick < 0:
                    break
            out, note = operator(rng, out, layout)
            notes.append(note)
        roll = rng.random()
        if roll < 0.75:
            out = with_checksum(out, fix_length=rng.random() < 0.6)
            notes.append('checksum fixed')
        return bytes(out), index, '; '.join(notes)

    @staticmethod
    def header_field(rng, out, layout):
        offset = rng.choice([8, 12, 16, 20, 24, 28, 40, 44, 48, 52])
        value = rng.choice(EDGE_U32 + [struct.unpack_from('<I', out, offset)[0] + rng.choice([-1, 1])]) & MASK32
        if len(out) >= offset + 4:
            struct.pack_into('<I', out, offset, value)
        return out, f'header u32 at {offset} = {value}'

    @staticmethod
    def length_field(rng, out, layout):
        if not layout.length_fields:
            return out, 'no length fields'
        offset = rng.choice(layout.length_fields)
        old = struct.unpack_from('<I', layout.data, offset)[0]
        value = rng.choice(EDGE_U32 + [old + 1, old - 1, old * 2, len(layout.data)]) & MASK32
        if len(out) >= offset + 4:
            struct.pack_into('<I', out, offset, value)
        return out, f'length field at {offset} = {value}'

    @staticmethod
    def vector_values(rng, out, layout):
        start, size = layout.scales if layout.scales[1] and rng.random() < 0.4 else layout.vectors
        if size < 4:
            return out, 'no vectors'
        count = rng.choice([1, 1, 4, size // 4])
        value = rng.choice(EDGE_FLOATS)
        width = 2 if layout.form == 1 and start == layout.vectors[0] else 4
        if width == 4:
            packed = struct.pack('<f', value)
        else:  # f16: NaN, ±infinity, the largest finite, the smallest subnormal, 0, -0, 1
            packed = rng.choice([b'\x00\x7e', b'\x00\x7c', b'\x00\xfc', b'\xff\x7b', b'\x01\x00', b'\x00\x00', b'\x00\x80', b'\x00\x3c'])
        if rng.random() < 0.3:
            packed = bytes(rng.randrange(256) for _ in range(width))
        at = start + rng.randrange(0, size // width) * width
        for i in range(count):
            if at + (i + 1) * width > min(start + size, len(out)):
                break
            out[at + i * width:at + (i + 1) * width] = packed
        return out, f'{count} values at {at} = {packed.hex()}'

    @staticmethod
    def fingerprint(rng, out, layout):
        value = rng.choice([0, MASK64, rng.getrandbits(64)])
        struct.pack_into('<Q', out, 32, value)
        return out, f'fingerprint = {value:x}'

    @staticmethod
    def bad_utf8(rng, out, layout):
        start, size = rng.choice(layout.strings)
        junk = rng.choice([b'\xff', b'\xc3', b'\xed\xa0\x80', b'\xf4\x90\x80\x80', b'\0', b'\xe2\x82'])
        at = start + rng.randrange(size)
        if at >= len(out):
            return out, 'string beyond the end'
        out[at:at + len(junk)] = junk[:max(0, min(len(junk), start + size - at))]
        return out, f'invalid UTF-8 {junk.hex()} at {at}'

    @staticmethod
    def bit_flips(rng, out, layout):
        spots = []
        for _ in range(rng.choice([1, 1, 2, 8])):
            at = rng.randrange(len(out))
            out[at] ^= 1 << rng.randrange(8)
            spots.append(at)
        return out, f'bit flips at {spots}'

    @staticmethod
    def splice(rng, out, layout):
        at = rng.randrange(len(out))
        if rng.random() < 0.5:
            count = rng.choice([1, 4, 16, 100])
            del out[at:at + count]
            return out, f'deleted {count} bytes at {at}'
        insert = bytes(rng.randrange(256) for _ in range(rng.choice([1, 4, 16])))
        out[at:at] = insert
        return out, f'inserted {insert.hex()} at {at}'

    @staticmethod
    def truncate_or_append(rng, out, layout):
        if rng.random() < 0.6:
            keep = rng.choice([0, 1, 8, 56, 63, 64, 65, rng.randrange(len(out))])
            return out[:keep], f'truncated to {keep}'
        tail = bytes(rng.randrange(256) for _ in range(rng.choice([1, 4, 100])))
        return out + tail, f'appended {len(tail)} bytes'
