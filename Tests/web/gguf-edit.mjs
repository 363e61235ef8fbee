// Reads a GGUF file into its metadata, tensor list and data section, and writes it back after
// edits, so tests can make malformed variants of a real file (another metadata value, a renamed
// or missing tensor, other dimensions) whose tensor data stays where the offsets say.

const TYPES = { uint8: 0, int8: 1, uint16: 2, int16: 3, uint32: 4, int32: 5, float32: 6, bool: 7, string: 8, array: 9, uint64: 10, int64: 11, float64: 12 };
const SIZES = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

/** { version, metadata: [{key, type, raw}], tensors: [{name, dims, type, offset}], alignment, data } */
export function readGGUF(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const u32 = () => { const v = view.getUint32(at, true); at += 4; return v; };
  const u64 = () => { const v = Number(view.getBigUint64(at, true)); at += 8; return v; };
  const string = () => { const n = u64(); const s = new TextDecoder().decode(bytes.subarray(at, at + n)); at += n; return s; };
  const skipValue = (type) => {
    if (type === TYPES.string) { const n = u64(); at += n; return; }
    if (type === TYPES.array) {
      const itemType = u32();
      const count = u64();
      for (let i = 0; i < count; i++) skipValue(itemType);
      return;
    }
    at += SIZES[type];
  };
  if (u32() !== 0x46554747) throw new Error('not a GGUF file');
  const version = u32();
  const tensorCount = u64();
  const kvCount = u64();
  const metadata = [];
  for (let i = 0; i < kvCount; i++) {
    const key = string();
    const type = u32();
    const start = at;
    skipValue(type);
    metadata.push({ key, type, raw: bytes.slice(start, at) });
  }
  const tensors = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = string();
    const dims = Array.from({ length: u32() }, u64);
    tensors.push({ name, dims, type: u32(), offset: u64() });
  }
  const alignmentEntry = metadata.find((m) => m.key === 'general.alignment');
  const alignment = alignmentEntry ? new DataView(alignmentEntry.raw.buffer).getUint32(0, true) : 32;
  const dataStart = Math.ceil(at / alignment) * alignment;
  return { version, metadata, tensors, alignment, data: bytes.subarray(dataStart) };
}

/** The GGUF bytes of `file` (readGGUF's shape). */
export function writeGGUF({ version, metadata, tensors, alignment, data }) {
  const parts = [];
  const encoder = new TextEncoder();
  const u32 = (v) => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v, true); parts.push(b); };
  const u64 = (v) => { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt(v), true); parts.push(b); };
  const string = (s) => { const b = encoder.encode(s); u64(b.length); parts.push(b); };
  u32(0x46554747);
  u32(version);
  u64(tensors.length);
  u64(metadata.length);
  for (const { key, type, raw } of metadata) {
    string(key);
    u32(type);
    parts.push(raw);
  }
  for (const { name, dims, type, offset } of tensors) {
    string(name);
    u32(dims.length);
    dims.forEach(u64);
    u32(type);
    u64(offset);
  }
  const headerLength = parts.reduce((n, p) => n + p.length, 0);
  const dataStart = Math.ceil(headerLength / alignment) * alignment;
  const out = new Uint8Array(dataStart + data.length);
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  out.set(data, dataStart);
  return out;
}

/** A metadata entry holding the string `value`. */
export function stringValue(key, value) {
  const text = new TextEncoder().encode(value);
  const raw = new Uint8Array(8 + text.length);
  new DataView(raw.buffer).setBigUint64(0, BigInt(text.length), true);
  raw.set(text, 8);
  return { key, type: TYPES.string, raw };
}
