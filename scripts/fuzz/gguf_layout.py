"""Where every field of a well-formed GGUF file lies: the map the mutator aims its edits with.

Layout (little-endian): magic "GGUF", u32 version, u64 tensor count, u64 metadata count,
metadata entries (string key, u32 value type, value), tensor infos (string name, u32 dimension
count, u64 dimensions, u32 type, u64 offset), padding to the alignment, tensor data. A string is
a u64 length and its bytes; an array a u32 element type, a u64 count and the elements.
"""

import struct
from dataclasses import dataclass, field

# Value type tags and the sizes of the fixed-size ones.
U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
FIXED_SIZE = {U8: 1, I8: 1, U16: 2, I16: 2, U32: 4, I32: 4, F32: 4, BOOL: 1, U64: 8, I64: 8, F64: 8}
SCALAR_FORMAT = {U8: '<B', I8: '<b', U16: '<H', I16: '<h', U32: '<I', I32: '<i', F32: '<f', BOOL: '<B',
                 U64: '<Q', I64: '<q', F64: '<d'}


@dataclass(slots=True)
class Scalar:
    """A fixed-size number in the file: where, how wide, and how to read it."""
    offset: int
    type: int  # a value type tag (U8 … F64); counts and lengths are U64, tags U32
    role: str  # what it means: 'version', 'kv count', 'string length', 'array count', 'dimension', ...


@dataclass(slots=True)
class StringField:
    offset: int  # of the u64 length
    length: int

    @property
    def bytes_offset(self):
        return self.offset + 8

    @property
    def end(self):
        return self.offset + 8 + self.length


@dataclass(slots=True)
class ArrayValue:
    type_offset: int
    element_type: int
    count_offset: int
    count: int
    elements_offset: int
    end: int
    # Offsets of the elements (strings, nested arrays); fixed-size ones are computed.
    element_offsets: list = field(default_factory=list)
    nested: list = field(default_factory=list)  # ArrayValue of nested arrays


@dataclass(slots=True)
class MetadataEntry:
    start: int
    end: int
    key: str
    key_field: StringField
    type_offset: int
    type: int
    value_offset: int
    string: StringField = None
    array: ArrayValue = None


@dataclass(slots=True)
class TensorInfo:
    start: int
    end: int
    name: str
    name_field: StringField
    dimension_count_offset: int
    dimensions: list  # (offset, value)
    type_offset: int
    type: int
    offset_offset: int
    offset: int


@dataclass(slots=True)
class Layout:
    size: int
    version: int
    tensor_count_offset: int
    metadata_count_offset: int
    metadata: list
    tensors: list
    header_end: int
    alignment: int
    data_offset: int
    scalars: list  # every fixed-size number of the header, for scalar mutations
    strings: list  # every string (keys, values, array elements, tensor names)

    def entry(self, key):
        return next((e for e in self.metadata if e.key == key), None)


class _Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, fmt):
        value = struct.unpack_from(fmt, self.data, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return value


def parse(data) -> Layout:
    """Maps a well-formed GGUF file (the seeds are; this is no validating parser)."""
    r = _Reader(data)
    scalars, strings = [], []

    def string():
        offset = r.pos
        length = r.take('<Q')
        scalars.append(Scalar(offset, U64, 'string length'))
        text = bytes(data[r.pos:r.pos + length])
        r.pos += length
        f = StringField(offset, length)
        strings.append(f)
        return text, f

    def array(depth):
        type_offset = r.pos
        element_type = r.take('<I')
        scalars.append(Scalar(type_offset, U32, 'array element type'))
        count_offset = r.pos
        count = r.take('<Q')
        scalars.append(Scalar(count_offset, U64, 'array count'))
        elements_offset = r.pos
        value = ArrayValue(type_offset, element_type, count_offset, count, elements_offset, 0)
        if element_type in FIXED_SIZE:
            size = FIXED_SIZE[element_type]
            # Only a sample of the elements become scalar targets (arrays can hold 262k numbers).
            for i in range(min(count, 64)):
                scalars.append(Scalar(elements_offset + i * size, element_type, 'array element'))
            r.pos += count * size
        elif element_type == STRING:
            for _ in range(count):
                value.element_offsets.append(r.pos)
                string()
        else:
            for _ in range(count):
                value.element_offsets.append(r.pos)
                value.nested.append(array(depth + 1))
        value.end = r.pos
        return value

    magic = r.take('<I')
    assert magic == 0x46554747, 'not a GGUF file'
    version = r.take('<I')
    scalars.append(Scalar(4, U32, 'version'))
    tensor_count_offset = r.pos
    tensor_count = r.take('<Q')
    scalars.append(Scalar(tensor_count_offset, U64, 'tensor count'))
    metadata_count_offset = r.pos
    metadata_count = r.take('<Q')
    scalars.append(Scalar(metadata_count_offset, U64, 'metadata count'))

    metadata = []
    alignment = 32
    for _ in range(metadata_count):
        start = r.pos
        key, key_field = string()
        type_offset = r.pos
        value_type = r.take('<I')
        scalars.append(Scalar(type_offset, U32, 'value type'))
        entry = MetadataEntry(start, 0, key.decode('utf-8', 'replace'), key_field, type_offset, value_type, r.pos)
        if value_type in FIXED_SIZE:
            scalars.append(Scalar(r.pos, value_type, 'value'))
            if entry.key == 'general.alignment':
                alignment = struct.unpack_from(SCALAR_FORMAT[value_type], data, r.pos)[0]
            r.pos += FIXED_SIZE[value_type]
        elif value_type == STRING:
            _, entry.string = string()
        else:
            entry.array = array(0)
        entry.end = r.pos
        metadata.append(entry)

    tensors = []
    for _ in range(tensor_count):
        start = r.pos
        name, name_field = string()
        dimension_count_offset = r.pos
        dimension_count = r.take('<I')
        scalars.append(Scalar(dimension_count_offset, U32, 'dimension count'))
        dimensions = []
        for _ in range(dimension_count):
            scalars.append(Scalar(r.pos, U64, 'dimension'))
            dimensions.append((r.pos, r.take('<Q')))
        type_offset = r.pos
        tensor_type = r.take('<I')
        scalars.append(Scalar(type_offset, U32, 'tensor type'))
        offset_offset = r.pos
        offset = r.take('<Q')
        scalars.append(Scalar(offset_offset, U64, 'tensor offset'))
        tensors.append(TensorInfo(start, r.pos, name.decode('utf-8', 'replace'), name_field, dimension_count_offset,
                                  dimensions, type_offset, tensor_type, offset_offset, offset))

    header_end = r.pos
    data_offset = (header_end + alignment - 1) // alignment * alignment
    return Layout(len(data), version, tensor_count_offset, metadata_count_offset, metadata, tensors,
                  header_end, alignment, data_offset, scalars, strings)
