/// Compiles a JSON Schema into a grammar whose strings are exactly the compact JSON texts the
/// schema accepts (within the supported subset).
///
/// Supported: `type` (one or a list), `properties`, `required`, `additionalProperties`
/// (absent means *no* extra properties — predictable outputs), `items`, `prefixItems`,
/// `minItems`, `maxItems`, `enum`, `const`, `minLength`, `maxLength`, `format` (date, time,
/// date-time and uuid are enforced; other formats are annotations and ignored), `minimum`,
/// `maximum`, `exclusiveMinimum`, `exclusiveMaximum` (whole-number bounds for `number`),
/// `anyOf`, `oneOf` (as anyOf), single-schema `allOf`, `$ref` to anywhere in the document
/// (`#`, `#/$defs/Name`, `#/definitions/Name`; recursion allowed), `nullable`, and schemas
/// `true`/`{}` (any JSON value). Properties are produced in the schema's order. Output is
/// compact: an optional single space after `:` and `,`, nowhere else.
///
/// Strings without `maxLength` (and the keys and strings of "any JSON") hold at most
/// `defaultMaxStringLength` characters: a small model can fall into repeating one character
/// inside a string, and without a bound that runs to the token limit. Give `maxLength` for
/// longer strings.
///
/// Keywords that constrain values in ways a grammar here does not enforce (`pattern`,
/// `uniqueItems`, `multipleOf`, `not`, …) are errors naming the keyword and where it is, as
/// are impossible schemas (`enum: []`, `minItems` > `maxItems`, `false`).
public struct JSONSchemaGrammar {
    private var rules: [GrammarRule] = []
    private var common: Set<String> = []
    private var refRules: [String: String] = [:]
    private var pending: [(pointer: String, name: String, document: JSONValue, prefix: String)] = []
    private var counter = 0

    /// The longest string (in characters) a schema gets when it does not say (`maxLength`).
    public static let defaultMaxStringLength = 512

    /// The grammar for `schema` (root rule "root").
    public static func grammar(for schema: JSONValue) throws(TinyLMError) -> Grammar {
        var compiler = JSONSchemaGrammar()
        let root = try compiler.expression(forDocument: schema, prefix: "")
        return try compiler.grammar(root: root)
    }

    /// The grammar of any JSON object (`objectOnly`) or any JSON value.
    public static func anyJSON(objectOnly: Bool) throws(TinyLMError) -> Grammar {
        var compiler = JSONSchemaGrammar()
        let root = objectOnly ? compiler.commonRule("json-object") : compiler.commonRule("json-value")
        return try compiler.grammar(root: root)
    }

    public init() {}

    /// The expression for a whole schema document; `$ref`s resolve within `document`. Rules
    /// made for it are named with `prefix`, so several documents can share one grammar.
    public mutating func expression(forDocument document: JSONValue, prefix: String) throws(TinyLMError) -> GrammarExpression {
        let e = try expression(document, path: "#", document: document, prefix: prefix)
        try resolvePending()
        return e
    }

    /// Finishes a grammar whose root is `root`, with every rule made so far.
    public mutating func grammar(root: GrammarExpression) throws(TinyLMError) -> Grammar {
        try resolvePending()
        return try Grammar(rules: [GrammarRule("root", root)] + rules, root: "root")
    }

    private mutating func resolvePending() throws(TinyLMError) {
        while let job = pending.popLast() {
            guard let target = Self.resolve(pointer: job.pointer, in: job.document) else {
                throw TinyLMError(.grammar, "$ref '\(job.pointer)' does not point to anything in the schema")
            }
            let e = try expression(target, path: job.pointer, document: job.document, prefix: job.prefix)
            rules.append(GrammarRule(job.name, e))
        }
    }

    // MARK: - Schemas

    private static let annotations: Set<String> = [
        "title", "description", "default", "examples", "$schema", "$id", "$comment", "deprecated",
        "readOnly", "writeOnly", "contentMediaType", "contentEncoding", "$anchor", "$defs", "definitions",
        "discriminator", "xml", "externalDocs", "example", "strict",
    ]
    private static let unsupported: Set<String> = [
        "pattern", "patternProperties", "propertyNames", "minProperties", "maxProperties", "uniqueItems",
        "contains", "minContains", "maxContains", "not", "if", "then", "else", "dependentRequired",
        "dependentSchemas", "dependencies", "multipleOf", "unevaluatedProperties", "unevaluatedItems",
        "$dynamicRef", "$recursiveRef", "additionalItems",
    ]
    private static let objectKeywords: Set<String> = ["properties", "required", "additionalProperties"]
    private static let arrayKeywords: Set<String> = ["items", "prefixItems", "minItems", "maxItems"]
    private static let stringKeywords: Set<String> = ["minLength", "maxLength", "format"]
    private static let numberKeywords: Set<String> = ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"]

    private mutating func expression(_ schema: JSONValue, path: String, document: JSONValue, prefix: String) throws(TinyLMError) -> GrammarExpression {
        if let b = schema.boolValue {
            if b { return commonRule("json-value") }
            throw TinyLMError(.grammar, "schema 'false' at \(path) can never be satisfied")
        }
        guard let object = schema.objectValue else {
            throw TinyLMError(.grammar, "the schema at \(path) must be an object or a boolean")
        }
        for key in object.keys where Self.unsupported.contains(key) {
            throw TinyLMError(.grammar, "unsupported keyword '\(key)' at \(path)")
        }
        if let ref = object["$ref"] {
            guard let pointer = ref.stringValue else { throw TinyLMError(.grammar, "'$ref' at \(path) must be a string") }
            guard pointer.hasPrefix("#") else {
                throw TinyLMError(.grammar, "unsupported $ref '\(pointer)' at \(path): only references within the schema (like #/$defs/Name) are supported")
            }
            if let name = refRules[prefix + pointer] { return .reference(name) }
            let name = "\(prefix)ref-\(refRules.count)"
            refRules[prefix + pointer] = name
            pending.append((pointer, name, document, prefix))
            return .reference(name)
        }
        var result = try valueExpression(object, path: path, document: document, prefix: prefix)
        if object["nullable"]?.boolValue == true { result = .choice([result, .string("null")]) }
        return result
    }

    private mutating func valueExpression(_ object: JSONObject, path: String, document: JSONValue, prefix: String) throws(TinyLMError) -> GrammarExpression {
        if let value = object["const"] { return .string(Self.serialize(value)) }
        if let e = object["enum"] {
            guard let list = e.arrayValue else { throw TinyLMError(.grammar, "'enum' at \(path) must be an array") }
            if list.isEmpty { throw TinyLMError(.grammar, "'enum' at \(path) is empty: no value can match") }
            var options: [GrammarExpression] = []
            var seen: Set<String> = []
            for v in list {
                let text = Self.serialize(v)
                if seen.insert(text).inserted { options.append(.string(text)) }
            }
            return .choice(options)
        }
        for keyword in ["anyOf", "oneOf"] {
            guard let value = object[keyword] else { continue }
            guard let list = value.arrayValue else { throw TinyLMError(.grammar, "'\(keyword)' at \(path) must be an array") }
            if list.isEmpty { throw TinyLMError(.grammar, "'\(keyword)' at \(path) is empty: no value can match") }
            for key in object.keys where key == "type" || Self.objectKeywords.contains(key) || Self.arrayKeywords.contains(key) {
                throw TinyLMError(.grammar, "unsupported: '\(keyword)' combined with '\(key)' at \(path) (move the shared keywords into each alternative)")
            }
            var options: [GrammarExpression] = []
            for (i, item) in list.enumerated() {
                options.append(try expression(item, path: "\(path)/\(keyword)/\(i)", document: document, prefix: prefix))
            }
            return .choice(options)
        }
        if let value = object["allOf"] {
            guard let list = value.arrayValue, list.count == 1 else {
                throw TinyLMError(.grammar, "unsupported keyword 'allOf' at \(path) (only a single schema is supported)")
            }
            return try expression(list[0], path: "\(path)/allOf/0", document: document, prefix: prefix)
        }

        var types: [String] = []
        if let t = object["type"] {
            if let s = t.stringValue {
                types = [s]
            } else if let list = t.arrayValue {
                for item in list {
                    guard let s = item.stringValue else { throw TinyLMError(.grammar, "'type' at \(path) must be a string or an array of strings") }
                    types.append(s)
                }
                if types.isEmpty { throw TinyLMError(.grammar, "'type' at \(path) is an empty list: no value can match") }
            } else {
                throw TinyLMError(.grammar, "'type' at \(path) must be a string or an array of strings")
            }
        } else {
            // Infer from the keywords present; none means any value.
            let keys = Set(object.keys)
            if !keys.isDisjoint(with: Self.objectKeywords) { types.append("object") }
            if !keys.isDisjoint(with: Self.arrayKeywords) { types.append("array") }
            if !keys.isDisjoint(with: Self.stringKeywords) { types.append("string") }
            if !keys.isDisjoint(with: Self.numberKeywords) { types.append("number") }
            if types.isEmpty { return commonRule("json-value") }
        }
        var options: [GrammarExpression] = []
        for type in types {
            switch type {
            case "null": options.append(.string("null"))
            case "boolean": options.append(.choice([.string("true"), .string("false")]))
            case "string": options.append(try stringExpression(object, path: path))
            case "integer": options.append(try integerExpression(object, path: path))
            case "number": options.append(try numberExpression(object, path: path))
            case "object": options.append(try objectExpression(object, path: path, document: document, prefix: prefix))
            case "array": options.append(try arrayExpression(object, path: path, document: document, prefix: prefix))
            default: throw TinyLMError(.grammar, "unknown type '\(type)' at \(path)")
            }
        }
        return options.count == 1 ? options[0] : .choice(options)
    }

    // MARK: Objects and arrays

    private static let space: GrammarExpression = .optional(.literal([0x20]))
    private static let comma: GrammarExpression = .sequence([.literal([0x2C]), space])
    private static let colon: GrammarExpression = .sequence([.literal([0x3A]), space])

    private mutating func objectExpression(_ object: JSONObject, path: String, document: JSONValue, prefix: String) throws(TinyLMError) -> GrammarExpression {
        var names: [String] = []
        var schemas: [JSONValue] = []
        if let p = object["properties"] {
            guard let props = p.objectValue else { throw TinyLMError(.grammar, "'properties' at \(path) must be an object") }
            for (k, v) in props.entries { names.append(k); schemas.append(v) }
        }
        var required: Set<String> = []
        if let r = object["required"] {
            guard let list = r.arrayValue else { throw TinyLMError(.grammar, "'required' at \(path) must be an array of strings") }
            for item in list {
                guard let s = item.stringValue else { throw TinyLMError(.grammar, "'required' at \(path) must be an array of strings") }
                required.insert(s)
            }
        }
        var additional: GrammarExpression? = nil
        if let a = object["additionalProperties"] {
            if let b = a.boolValue {
                if b { additional = commonRule("json-value") }
            } else {
                additional = try expression(a, path: "\(path)/additionalProperties", document: document, prefix: prefix)
            }
        }
        for name in required.sorted() where !names.contains(name) {
            guard additional != nil else {
                throw TinyLMError(.grammar, "required property '\(name)' at \(path) is not in 'properties' and additional properties are not allowed")
            }
            names.append(name)
            schemas.append(.bool(true))
        }
        var members: [GrammarExpression] = []
        for (i, name) in names.enumerated() {
            let value = try expression(schemas[i], path: "\(path)/properties/\(Self.escapePointer(name))", document: document, prefix: prefix)
            members.append(.sequence([.string(Self.serialize(.string(name))), Self.colon, value]))
        }
        let base = newRuleName(prefix + "object")
        // rest(i, first): members i... given whether one was written already.
        func ruleName(_ i: Int, _ first: Bool) -> String { "\(base)-\(i)\(first ? "f" : "n")" }
        var defined: Set<String> = []
        var stack: [(Int, Bool)] = [(0, true)]
        while let (i, first) = stack.popLast() {
            let name = ruleName(i, first)
            if !defined.insert(name).inserted { continue }
            let separator: GrammarExpression = first ? .empty : Self.comma
            if i == names.count {
                if let additional {
                    let member = GrammarExpression.sequence([commonRule("json-string"), Self.colon, additional])
                    let more = GrammarExpression.zeroOrMore(.sequence([Self.comma, member]))
                    rules.append(GrammarRule(name, first ? .optional(.sequence([member, more])) : more))
                } else {
                    rules.append(GrammarRule(name, .empty))
                }
                continue
            }
            let take = GrammarExpression.sequence([separator, members[i], .reference(ruleName(i + 1, false))])
            stack.append((i + 1, false))
            if required.contains(names[i]) {
                rules.append(GrammarRule(name, take))
            } else {
                rules.append(GrammarRule(name, .choice([take, .reference(ruleName(i + 1, first))])))
                stack.append((i + 1, first))
            }
        }
        return .sequence([.literal([0x7B]), .reference(ruleName(0, true)), .literal([0x7D])])
    }

    private mutating func arrayExpression(_ object: JSONObject, path: String, document: JSONValue, prefix: String) throws(TinyLMError) -> GrammarExpression {
        let minItems = try count(object, "minItems", path: path) ?? 0
        let maxItems = try count(object, "maxItems", path: path)
        if let maxItems, maxItems < minItems {
            throw TinyLMError(.grammar, "minItems \(minItems) is greater than maxItems \(maxItems) at \(path)")
        }
        var prefixItems: [GrammarExpression] = []
        if let p = object["prefixItems"] {
            guard let list = p.arrayValue else { throw TinyLMError(.grammar, "'prefixItems' at \(path) must be an array") }
            for (i, item) in list.enumerated() {
                prefixItems.append(try expression(item, path: "\(path)/prefixItems/\(i)", document: document, prefix: prefix))
            }
        }
        var item: GrammarExpression? = commonRule("json-value")
        if let i = object["items"] {
            if i.boolValue == false { item = nil } else {
                item = try expression(i, path: "\(path)/items", document: document, prefix: prefix)
            }
        }
        let k = prefixItems.count
        if item == nil, minItems > k {
            throw TinyLMError(.grammar, "minItems \(minItems) at \(path) cannot be met: only \(k) items are allowed")
        }
        // The tail after the prefix items: between rMin and rMax more items.
        let rMin = max(0, minItems - k)
        var rMax: Int? = item == nil ? 0 : maxItems.map { max(0, $0 - k) }
        if let m = rMax, m < rMin { rMax = rMin }
        var tail: GrammarExpression = .empty
        if let item, rMax != 0 {
            let more = GrammarExpression.sequence([Self.comma, item])
            if k == 0 {
                let rest = GrammarExpression.repetition(more, min: max(0, rMin - 1), max: rMax.map { $0 - 1 })
                let seq = GrammarExpression.sequence([item, rest])
                tail = rMin == 0 ? .optional(seq) : seq
            } else {
                tail = .repetition(more, min: rMin, max: rMax)
            }
        }
        if k == 0 { return .sequence([.literal([0x5B]), tail, .literal([0x5D])]) }
        // Prefix items: item j is required while j < minItems, and allowed while j < maxItems.
        let base = newRuleName(prefix + "tuple")
        let limit = maxItems.map { min($0, k) } ?? k
        rules.append(GrammarRule("\(base)-\(limit)", limit == k ? tail : .empty))
        var j = limit - 1
        while j >= 0 {
            let separator: GrammarExpression = j == 0 ? .empty : Self.comma
            let take = GrammarExpression.sequence([separator, prefixItems[j], .reference("\(base)-\(j + 1)")])
            rules.append(GrammarRule("\(base)-\(j)", j < minItems ? take : .choice([take, .empty])))
            j -= 1
        }
        return .sequence([.literal([0x5B]), .reference("\(base)-0"), .literal([0x5D])])
    }

    private func count(_ object: JSONObject, _ key: String, path: String) throws(TinyLMError) -> Int? {
        guard let v = object[key] else { return nil }
        guard let n = v.intValue, n >= 0 else { throw TinyLMError(.grammar, "'\(key)' at \(path) must be a whole number ≥ 0") }
        guard n <= 10_000 else { throw TinyLMError(.grammar, "'\(key)' \(n) at \(path) is too large for a grammar (at most 10000)") }
        return n
    }

    // MARK: Strings

    private mutating func stringExpression(_ object: JSONObject, path: String) throws(TinyLMError) -> GrammarExpression {
        if let f = object["format"]?.stringValue {
            let quote = GrammarExpression.literal([0x22])
            switch f {
            case "date": return .sequence([quote, Self.date, quote])
            case "time": return .sequence([quote, Self.time, quote])
            case "date-time": return .sequence([quote, Self.date, .string("T"), Self.time, quote])
            case "uuid":
                let hex = GrammarExpression.bytes(Self.hexDigits)
                func run(_ n: Int) -> GrammarExpression { .repetition(hex, min: n, max: n) }
                return .sequence([quote, run(8), .string("-"), run(4), .string("-"), run(4), .string("-"), run(4), .string("-"), run(12), quote])
            default: break  // an annotation only
            }
        }
        let minLength = try count(object, "minLength", path: path) ?? 0
        let maxLength = try count(object, "maxLength", path: path)
        if let maxLength, maxLength < minLength {
            throw TinyLMError(.grammar, "minLength \(minLength) is greater than maxLength \(maxLength) at \(path)")
        }
        if minLength == 0 && maxLength == nil { return commonRule("json-string") }
        let bound = maxLength ?? max(minLength, Self.defaultMaxStringLength)
        return .sequence([.literal([0x22]), .repetition(commonRule("json-char"), min: minLength, max: bound), .literal([0x22])])
    }

    private static let hexDigits: ByteSet = {
        var s = ByteSet(0x30, 0x39)
        s.formUnion(ByteSet(0x41, 0x46))
        s.formUnion(ByteSet(0x61, 0x66))
        return s
    }()
    private static let digit = GrammarExpression.bytes(ByteSet(0x30, 0x39))
    private static func digits(_ lo: Unicode.Scalar, _ hi: Unicode.Scalar) -> GrammarExpression {
        .bytes(ByteSet(UInt8(ascii: lo), UInt8(ascii: hi)))
    }
    private static let date: GrammarExpression = .sequence([
        .repetition(digit, min: 4, max: 4), .string("-"),
        .choice([.sequence([.string("0"), digits("1", "9")]), .sequence([.string("1"), digits("0", "2")])]), .string("-"),
        .choice([.sequence([.string("0"), digits("1", "9")]), .sequence([digits("1", "2"), digit]), .sequence([.string("3"), digits("0", "1")])]),
    ])
    private static let hour: GrammarExpression = .choice([.sequence([digits("0", "1"), digit]), .sequence([.string("2"), digits("0", "3")])])
    private static let minute: GrammarExpression = .sequence([digits("0", "5"), digit])
    private static let time: GrammarExpression = .sequence([
        hour, .string(":"), minute, .string(":"), minute,
        .optional(.sequence([.string("."), .repetition(digit, min: 1, max: 6)])),
        .choice([.string("Z"), .sequence([.bytes(ByteSet(0x2B).union(ByteSet(0x2D))), hour, .string(":"), minute])]),
    ])

    // MARK: Numbers

    private func bound(_ object: JSONObject, _ key: String, path: String) throws(TinyLMError) -> Double? {
        guard let v = object[key] else { return nil }
        if v.boolValue != nil { return nil }  // draft-4 boolean exclusives are read with their bound
        guard let d = v.doubleValue, d.isFinite else { throw TinyLMError(.grammar, "'\(key)' at \(path) must be a number") }
        guard abs(d) <= 1e15 else { throw TinyLMError(.grammar, "'\(key)' \(Self.format(d)) at \(path) is too large for a grammar bound (at most 1e15)") }
        return d
    }

    /// Lower and upper bounds with exclusivity, from draft-6+ (numeric exclusives) or draft-4
    /// (boolean exclusives) keywords.
    private func bounds(_ object: JSONObject, path: String) throws(TinyLMError) -> (lo: Double?, loExclusive: Bool, hi: Double?, hiExclusive: Bool) {
        var lo = try bound(object, "minimum", path: path), hi = try bound(object, "maximum", path: path)
        var loEx = object["exclusiveMinimum"]?.boolValue ?? false
        var hiEx = object["exclusiveMaximum"]?.boolValue ?? false
        if let x = try bound(object, "exclusiveMinimum", path: path), lo == nil || x >= lo! { lo = x; loEx = true }
        if let x = try bound(object, "exclusiveMaximum", path: path), hi == nil || x <= hi! { hi = x; hiEx = true }
        return (lo, loEx, hi, hiEx)
    }

    private mutating func integerExpression(_ object: JSONObject, path: String) throws(TinyLMError) -> GrammarExpression {
        let b = try bounds(object, path: path)
        if b.lo == nil && b.hi == nil { return commonRule("json-integer") }
        var lo: Int64? = nil, hi: Int64? = nil
        if let l = b.lo {
            var v = l.rounded(.up)
            if b.loExclusive && v == l { v += 1 }
            lo = Int64(v)
        }
        if let h = b.hi {
            var v = h.rounded(.down)
            if b.hiExclusive && v == h { v -= 1 }
            hi = Int64(v)
        }
        if let lo, let hi, lo > hi { throw TinyLMError(.grammar, "no integer lies within the bounds at \(path)") }
        return IntegerRanges.expression(lo, hi)
    }

    private mutating func numberExpression(_ object: JSONObject, path: String) throws(TinyLMError) -> GrammarExpression {
        let b = try bounds(object, path: path)
        if b.lo == nil && b.hi == nil { return commonRule("json-number") }
        for v in [b.lo, b.hi] {
            if let v, v != v.rounded(.towardZero) {
                throw TinyLMError(.grammar, "unsupported bound \(Self.format(v)) at \(path): bounds on type 'number' must be whole numbers")
            }
        }
        let lo = b.lo.map { Int64($0) }, hi = b.hi.map { Int64($0) }
        if let lo, let hi, lo > hi || (lo == hi && (b.loExclusive || b.hiExclusive)) {
            throw TinyLMError(.grammar, "no number lies within the bounds at \(path)")
        }
        return IntegerRanges.decimalExpression(lo: lo, loExclusive: b.loExclusive, hi: hi, hiExclusive: b.hiExclusive)
    }

    // MARK: Shared rules

    /// A reference to one of the shared JSON rules, defining it (and what it needs) on first use.
    private mutating func commonRule(_ name: String) -> GrammarExpression {
        if common.insert(name).inserted {
            let e: GrammarExpression
            switch name {
            case "json-value":
                e = .choice([commonRule("json-object"), commonRule("json-array"), commonRule("json-string"),
                             commonRule("json-number"), .string("true"), .string("false"), .string("null")])
            case "json-object":
                let member = GrammarExpression.sequence([commonRule("json-string"), Self.colon, .reference("json-value")])
                _ = commonRule("json-value")
                e = .sequence([.string("{"), .optional(.sequence([member, .zeroOrMore(.sequence([Self.comma, member]))])), .string("}")])
            case "json-array":
                _ = commonRule("json-value")
                let item = GrammarExpression.reference("json-value")
                e = .sequence([.string("["), .optional(.sequence([item, .zeroOrMore(.sequence([Self.comma, item]))])), .string("]")])
            case "json-string":
                e = .sequence([.literal([0x22]), .repetition(commonRule("json-char"), min: 0, max: Self.defaultMaxStringLength), .literal([0x22])])
            case "json-char":
                var escapes = ByteSet()
                for c in "\"\\/bfnrt".utf8 { escapes.insert(c) }
                e = .choice([
                    .characters([0x22...0x22, 0x5C...0x5C, 0x00...0x1F], negated: true),
                    .sequence([.literal([0x5C]), .choice([.bytes(escapes), .sequence([.string("u"), .repetition(.bytes(Self.hexDigits), min: 4, max: 4)])])]),
                ])
            case "json-integer":
                e = IntegerRanges.expression(nil, nil)
            case "json-number":
                e = .sequence([
                    IntegerRanges.expression(nil, nil),
                    .optional(.sequence([.string("."), .repetition(Self.digit, min: 1, max: 16)])),
                    .optional(.sequence([.bytes(ByteSet(0x45).union(ByteSet(0x65))), .optional(.bytes(ByteSet(0x2B).union(ByteSet(0x2D)))),
                                         .repetition(Self.digit, min: 1, max: 3)])),
                ])
            default:
                e = .empty
            }
            rules.append(GrammarRule(name, e))
        }
        return .reference(name)
    }

    private mutating func newRuleName(_ base: String) -> String {
        counter += 1
        return "\(base)\(counter)"
    }

    // MARK: Helpers

    static func serialize(_ value: JSONValue) -> String { value.serialized(JSONFormat(escapeNonASCII: false)) }

    static func format(_ d: Double) -> String { JSONValue.number(d).serialized() }

    static func escapePointer(_ name: String) -> String {
        var out: [UInt8] = []
        for c in name.utf8 {
            if c == UInt8(ascii: "~") { out += [UInt8(ascii: "~"), UInt8(ascii: "0")] }
            else if c == UInt8(ascii: "/") { out += [UInt8(ascii: "~"), UInt8(ascii: "1")] }
            else { out.append(c) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The value a JSON pointer (`#/a/b`) designates in `document`.
    static func resolve(pointer: String, in document: JSONValue) -> JSONValue? {
        var value = document
        let bytes = Array(pointer.utf8)
        guard bytes.first == UInt8(ascii: "#") else { return nil }
        if bytes.count == 1 { return value }
        guard bytes[1] == UInt8(ascii: "/") else { return nil }
        var tokens: [[UInt8]] = [[]]
        var i = 2
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "/") {
                tokens.append([])
            } else if c == UInt8(ascii: "~"), i + 1 < bytes.count {
                tokens[tokens.count - 1].append(bytes[i + 1] == UInt8(ascii: "1") ? UInt8(ascii: "/") : UInt8(ascii: "~"))
                i += 1
            } else {
                tokens[tokens.count - 1].append(c)
            }
            i += 1
        }
        for raw in tokens {
            let token = String(decoding: raw, as: UTF8.self)
            if let object = value.objectValue {
                guard let next = object[token] else { return nil }
                value = next
            } else if let array = value.arrayValue {
                var index = 0
                guard !raw.isEmpty, raw.count <= 9 else { return nil }
                for c in raw {
                    guard c >= 0x30, c <= 0x39 else { return nil }
                    index = index * 10 + Int(c - 0x30)
                }
                guard index < array.count else { return nil }
                value = array[index]
            } else {
                return nil
            }
        }
        return value
    }
}

extension ByteSet {
    func union(_ other: ByteSet) -> ByteSet {
        var s = self
        s.formUnion(other)
        return s
    }
}
