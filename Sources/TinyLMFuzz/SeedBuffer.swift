/// A seed file held once, with room around it, so a fuzz case (a few edits against the seed)
/// becomes a contiguous byte view without copying the whole file: edits that change lengths
/// rebuild only the prefix they touch, placed to end where the original prefix ended (the rest
/// of the file stays where it is, so a real model's 250 MB of weights are never copied);
/// same-length edits overwrite in place; a cut or appended tail moves the view's end. After the
/// case, `restore` puts the original bytes back.
/// scripts/fuzz/wasm-worker.mjs does the same in wasm memory.
final class SeedBuffer {
    /// Room before the file for a header that grew, and after it for appended bytes.
    static let frontSlack = 16 << 20
    static let tailSlack = 1 << 16

    struct Edit {
        var offset: Int
        var deleteCount: Int
        var insert: [UInt8]
    }

    struct Failure: Error, CustomStringConvertible { let description: String }

    let pristine: [UInt8]
    private let buffer: UnsafeMutableRawPointer
    private var dirty: [(start: Int, count: Int)] = []

    var size: Int { pristine.count }

    init(_ bytes: [UInt8]) {
        pristine = bytes
        buffer = UnsafeMutableRawPointer.allocate(byteCount: Self.frontSlack + bytes.count + Self.tailSlack, alignment: 64)
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: Self.frontSlack + bytes.count + Self.tailSlack)
        bytes.withUnsafeBytes { (buffer + Self.frontSlack).copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
    }

    deinit { buffer.deallocate() }

    /// The case's file: `edits` (sorted by offset, not overlapping, in the seed's coordinates)
    /// applied. Valid until `restore()`.
    func view(applying edits: [Edit]) throws -> UnsafeRawBufferPointer {
        let s = Self.frontSlack
        for edit in edits where edit.offset < 0 || edit.deleteCount < 0 || edit.offset + edit.deleteCount > size {
            throw Failure(description: "edit \(edit.offset)+\(edit.deleteCount) is outside the \(size)-byte seed")
        }
        var tail = edits.last { $0.offset + $0.deleteCount == size && $0.insert.count != $0.deleteCount }
        var prefixEnd = 0
        for edit in edits where edit.insert.count != edit.deleteCount && !(tail.map { $0.offset == edit.offset } ?? false) {
            prefixEnd = max(prefixEnd, edit.offset + edit.deleteCount)
        }
        if let t = tail, t.offset < prefixEnd {
            prefixEnd = size
            tail = nil
        }
        // The new prefix: the seed's first prefixEnd bytes with the edits inside them applied.
        var prefix: [UInt8] = []
        var cursor = 0
        for edit in edits where edit.offset < prefixEnd {
            prefix.append(contentsOf: pristine[cursor..<edit.offset])
            prefix.append(contentsOf: edit.insert)
            cursor = edit.offset + edit.deleteCount
        }
        prefix.append(contentsOf: pristine[min(cursor, prefixEnd)..<prefixEnd])
        let growth = prefix.count - prefixEnd
        guard growth <= Self.frontSlack else { throw Failure(description: "the header grows by \(growth) bytes, more than the slack") }
        let start = s + prefixEnd - prefix.count
        prefix.withUnsafeBytes { (buffer + start).copyMemory(from: $0.baseAddress!, byteCount: prefix.count) }
        markDirty(start, prefix.count)
        for edit in edits where edit.offset >= prefixEnd && edit.insert.count == edit.deleteCount {
            edit.insert.withUnsafeBytes { (buffer + s + edit.offset).copyMemory(from: $0.baseAddress!, byteCount: edit.insert.count) }
            markDirty(s + edit.offset, edit.insert.count)
        }
        var end = s + size
        if let t = tail {
            guard t.insert.count - t.deleteCount <= Self.tailSlack else { throw Failure(description: "the tail grows by more than the slack") }
            t.insert.withUnsafeBytes { raw in
                if raw.count > 0 { (buffer + s + t.offset).copyMemory(from: raw.baseAddress!, byteCount: raw.count) }
            }
            markDirty(s + t.offset, t.insert.count)
            end = s + t.offset + t.insert.count
        }
        return UnsafeRawBufferPointer(start: buffer + start, count: end - start)
    }

    private func markDirty(_ start: Int, _ count: Int) {
        // Only the file's own range needs restoring; the slack around it holds nothing.
        let low = max(start, Self.frontSlack), high = min(start + count, Self.frontSlack + size)
        if high > low { dirty.append((low, high - low)) }
    }

    /// Puts the seed's bytes back wherever the last case wrote.
    func restore() {
        pristine.withUnsafeBytes { original in
            for (start, count) in dirty {
                (buffer + start).copyMemory(from: original.baseAddress! + (start - Self.frontSlack), byteCount: count)
            }
        }
        dirty.removeAll(keepingCapacity: true)
    }
}
