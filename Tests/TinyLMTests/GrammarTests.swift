import Testing
@testable import TinyLM

/// A small JSON Schema validator for the subset the grammar compiler supports — an oracle
/// independent of the grammar code. Missing `additionalProperties` means none allowed, as in
/// the compiler. Returns nil when valid, else what is wrong.
enum SchemaValidator {
    static func validate(_ v: JSONValue, _ schema: JSONValue, root: JSONValue? = nil, path: String = "$") -> String? {
        let root = root ?? schema
        if let b = schema.boolValue { return b ? nil : "\(path): schema false" }
        guard let s = schema.objectValue else { return "\(path): bad schema" }
        if let ref = s["$ref"]?.stringValue {
            var target = root
            for part in ref.dropFirst(2).split(separator: "/") {
                guard let next = target[String(part)] else { return "\(path): bad ref" }
                target = next
            }
            return validate(v, target, root: root, path: path)
        }
        if s["nullable"]?.boolValue == true, v.isNull { return nil }
        if let c = s["const"] { return v == c ? nil : "\(path): not the const" }
        if let e = s["enum"]?.arrayValue { return e.contains(where: { $0 == v }) ? nil : "\(path): not in enum" }
        for key in ["anyOf", "oneOf"] {
            if let list = s[key]?.arrayValue {
                return list.contains(where: { validate(v, $0, root: root, path: path) == nil }) ? nil : "\(path): no \(key) branch matches"
            }
        }
        if let list = s["allOf"]?.arrayValue {
            for sub in list { if let e = validate(v, sub, root: root, path: path) { return e } }
        }
        var types: [String] = []
        if let t = s["type"]?.stringValue { types = [t] } else if let list = s["type"]?.arrayValue { types = list.compactMap { $0.stringValue } }
        if types.isEmpty {
            if s["properties"] != nil || s["required"] != nil { types = ["object"] }
            else if s["items"] != nil || s["minItems"] != nil || s["maxItems"] != nil { types = ["array"] }
            else { return nil }
        }
        var errors: [String] = []
        for type in types {
            if let e = check(v, type: type, s, root: root, path: path) { errors.append(e) } else { return nil }
        }
        return errors.joined(separator: "; ")
    }

    private static func check(_ v: JSONValue, type: String, _ s: JSONObject, root: JSONValue, path: String) -> String? {
        switch type {
        case "null": return v.isNull ? nil : "\(path): not null"
        case "boolean": return v.boolValue != nil ? nil : "\(path): not a boolean"
        case "string":
            guard let str = v.stringValue else { return "\(path): not a string" }
            let n = str.unicodeScalars.count
            if let m = s["minLength"]?.intValue, n < m { return "\(path): shorter than \(m)" }
            if let m = s["maxLength"]?.intValue, n > m { return "\(path): longer than \(m)" }
            if s["format"]?.stringValue == "date" {
                let b = Array(str.utf8)
                if b.count != 10 || b[4] != 0x2D || b[7] != 0x2D { return "\(path): not a date" }
            }
            return nil
        case "integer", "number":
            guard let d = v.doubleValue else { return "\(path): not a number" }
            if type == "integer", v.intValue == nil { return "\(path): not an integer" }
            if let m = s["minimum"]?.doubleValue, d < m { return "\(path): below minimum" }
            if let m = s["maximum"]?.doubleValue, d > m { return "\(path): above maximum" }
            if let m = s["exclusiveMinimum"]?.doubleValue, d <= m { return "\(path): not above exclusiveMinimum" }
            if let m = s["exclusiveMaximum"]?.doubleValue, d >= m { return "\(path): not below exclusiveMaximum" }
            return nil
        case "object":
            guard let o = v.objectValue else { return "\(path): not an object" }
            let props = s["properties"]?.objectValue ?? JSONObject()
            for r in s["required"]?.arrayValue ?? [] {
                if let name = r.stringValue, !o.contains(name) { return "\(path): missing required '\(name)'" }
            }
            for (k, value) in o.entries {
                if let sub = props[k] {
                    if let e = validate(value, sub, root: root, path: "\(path).\(k)") { return e }
                } else if let extra = s["additionalProperties"], extra.boolValue != false {
                    if let e = validate(value, extra, root: root, path: "\(path).\(k)") { return e }
                } else {
                    return "\(path): unexpected property '\(k)'"
                }
            }
            return nil
        case "array":
            guard let a = v.arrayValue else { return "\(path): not an array" }
            if let m = s["minItems"]?.intValue, a.count < m { return "\(path): fewer than \(m) items" }
            if let m = s["maxItems"]?.intValue, a.count > m { return "\(path): more than \(m) items" }
            let prefix = s["prefixItems"]?.arrayValue ?? []
            for (i, item) in a.enumerated() {
                let sub = i < prefix.count ? prefix[i] : (s["items"] ?? true)
                if let e = validate(item, sub, root: root, path: "\(path)[\(i)]") { return e }
            }
            return nil
        default: return "\(path): unknown type \(type)"
        }
    }
}

/// A deterministic generator for the property tests.
struct TestRandom {
    var state: UInt64
    init(_ seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
    mutating func next() -> UInt64 {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return state
    }
    mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func chance(_ p: Double) -> Bool { Double(next() % 1_000_000) / 1_000_000 < p }
}

@Suite("Grammar engine, GBNF and JSON Schema")
struct GrammarTests {
    func automaton(_ gbnf: String) throws -> GrammarAutomaton { GrammarAutomaton(grammar: try GBNFParser.parse(gbnf)) }
    func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    // MARK: GBNF

    @Test func gbnfBasics() throws {
        let a = try automaton(#"root ::= "a" [b-c]+ ("x" | "y")? # comment"#)
        #expect(a.matches(bytes("ab")))
        #expect(a.matches(bytes("abcbx")))
        #expect(!a.matches(bytes("a")))
        #expect(a.isPrefix(bytes("a")))
        #expect(!a.isPrefix(bytes("ax")))
        #expect(!a.matches(bytes("abxy")))
        let s = a.initialState()
        #expect(a.allowedBytes(s) == ByteSet(UInt8(ascii: "a")))
    }

    @Test func gbnfMultiLineJSONGrammar() throws {
        let text = #"""
        # A JSON grammar in llama.cpp's style.
        root   ::= object
        value  ::= object | array | string | number | ("true" | "false" | "null") ws

        object ::=
          "{" ws (
                    string ":" ws value
            ("," ws string ":" ws value)*
          )? "}" ws

        array  ::=
          "[" ws (
                    value
            ("," ws value)*
          )? "]" ws

        string ::=
          "\"" (
            [^"\\\x7F\x00-\x1F] |
            "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4}) # escapes
          )* "\"" ws

        number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws
        ws ::= | " " | "\n" [ \t]{0,20}
        """#
        let a = try automaton(text)
        #expect(a.matches(bytes(#"{"a": [1, 2.5, "x\"y", true, null], "b": {"c": "é😀"}}"#)))
        #expect(a.matches(bytes("{\n  \"a\": 1\n}")))
        #expect(!a.matches(bytes(#"{"a": }"#)))
        #expect(!a.isPrefix(bytes(#"{"a" 1"#)))
    }

    @Test func gbnfRepetitionAndUnicodeClasses() throws {
        let r = try automaton(#"root ::= "a"{2,4}"#)
        #expect(!r.matches(bytes("a")) && r.matches(bytes("aa")) && r.matches(bytes("aaaa")) && !r.isPrefix(bytes("aaaaa")))
        let exact = try automaton(#"root ::= [0-9]{3} "-" [0-9]{2,}"#)
        #expect(exact.matches(bytes("123-45")) && exact.matches(bytes("123-4567")) && !exact.matches(bytes("12-45")))
        let greek = try automaton("root ::= [α-ω]+")
        #expect(greek.matches(bytes("αβγ")) && !greek.isPrefix(bytes("a")))
        let notA = try automaton("root ::= [^a]")
        for s in ["b", "é", "€", "😀", "\u{7FF}", "\u{800}", "\u{FFFF}", "\u{10000}", "\u{10FFFF}"] { #expect(notA.matches(bytes(s)), "\(s)") }
        #expect(!notA.isPrefix(bytes("a")))
        #expect(!notA.isPrefix([0xED, 0xA0, 0x80]))  // a surrogate is not UTF-8
        #expect(!notA.isPrefix([0xC0, 0x80]))  // overlong
        let any = try automaton(#"root ::= . . "\u00e9\x41""#)
        #expect(any.matches(bytes("x😀éA")))
    }

    @Test func gbnfErrorsSayWhere() throws {
        func message(_ text: String) -> String {
            do { _ = try GBNFParser.parse(text); return "no error" } catch { #expect(error.kind == .grammar); return error.message }
        }
        #expect(message("root = \"a\"").contains("line 1, column 6"))
        #expect(message("root ::= \"a\"\nitem ::= \"b").contains("line 2, column 10: unterminated string"))
        #expect(message("root ::= other\nother ::= missing").contains("line 2, column 11: undefined rule 'missing'"))
        #expect(message("item ::= \"a\"").contains("no 'root' rule"))
        #expect(message("root ::= [a-").contains("unterminated character class"))
        #expect(message("root ::= (\"a\"").contains("expected ')'"))
        #expect(message("root ::= \"a\"{3,1}").contains("maximum below its minimum"))
        #expect(message("root ::= root \"a\" | \"a\"").contains("left-recursive"))
        #expect(message("root ::= x | \"a\"\nx ::= \"b\"? root").contains("left-recursive"))
        #expect(message("root ::= \"a\" root").contains("never be completed"))
        #expect(message("root ::= \"\\q\"").contains("unknown escape"))
        #expect(message("").contains("empty"))
        #expect(message("root ::= \"a\"\nroot ::= \"b\"").contains("defined twice"))
    }

    // MARK: JSON Schema

    func schemaAutomaton(_ schema: String) throws -> GrammarAutomaton {
        GrammarAutomaton(grammar: try JSONSchemaGrammar.grammar(for: try JSONValue(parsing: schema)))
    }

    func schemaError(_ schema: String) -> String {
        do { _ = try JSONSchemaGrammar.grammar(for: try JSONValue(parsing: schema)); return "no error" } catch let e as TinyLMError {
            #expect(e.kind == .grammar)
            return e.message
        } catch { return "\(error)" }
    }

    @Test func flatObjectSchema() throws {
        let a = try schemaAutomaton(#"{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer","minimum":0,"maximum":120},"ok":{"type":"boolean"}},"required":["name","age"]}"#)
        #expect(a.matches(bytes(#"{"name":"Bob","age":30}"#)))
        #expect(a.matches(bytes(#"{"name": "Bob", "age": 120, "ok": false}"#)))
        #expect(!a.matches(bytes(#"{"name":"Bob"}"#)))
        #expect(!a.isPrefix(bytes(#"{"name":"Bob","age":121"#)))
        #expect(!a.isPrefix(bytes(#"{"name":"Bob","age":-"#)))
        #expect(!a.isPrefix(bytes(#"{"age"#)))  // properties come in schema order
        #expect(!a.isPrefix(bytes(#"{"name":"Bob","age":3,"x"#)))  // no additional properties
        #expect(!a.isPrefix(bytes("{\n")))  // compact: no newlines
    }

    @Test func nestedArraysEnumsAnyOfAndRefs() throws {
        let schema = #"""
        {"type":"object","properties":{
           "tags":{"type":"array","items":{"type":"string","enum":["a","b","c"]},"minItems":1,"maxItems":2},
           "point":{"$ref":"#/$defs/point"},
           "id":{"anyOf":[{"type":"integer"},{"type":"null"}]},
           "tree":{"$ref":"#/$defs/tree"}},
         "required":["tags","point","id"],
         "$defs":{"point":{"type":"object","properties":{"x":{"type":"number"},"y":{"type":"number"}},"required":["x","y"]},
                  "tree":{"type":"object","properties":{"kids":{"type":"array","items":{"$ref":"#/$defs/tree"}}},"required":["kids"]}}}
        """#
        let a = try schemaAutomaton(schema)
        #expect(a.matches(bytes(#"{"tags":["a"],"point":{"x":1.5,"y":-2e3},"id":null}"#)))
        #expect(a.matches(bytes(#"{"tags":["a", "c"],"point":{"x":0,"y":1},"id":7,"tree":{"kids":[{"kids":[]},{"kids":[{"kids":[]}]}]}}"#)))
        #expect(!a.matches(bytes(#"{"tags":[],"point":{"x":0,"y":1},"id":7}"#)))
        #expect(!a.isPrefix(bytes(#"{"tags":["a","b","#)))
        #expect(!a.isPrefix(bytes(#"{"tags":["d"#)))
        #expect(!a.isPrefix(bytes(#"{"tags":["a"],"point":{"x":01"#)))
        let tuple = try schemaAutomaton(#"{"type":"array","prefixItems":[{"type":"integer"},{"type":"string"}],"items":false,"minItems":1}"#)
        #expect(tuple.matches(bytes("[1]")) && tuple.matches(bytes(#"[1,"x"]"#)) && !tuple.isPrefix(bytes(#"[1,"x","#)) && !tuple.matches(bytes("[]")))
        let extra = try schemaAutomaton(#"{"type":"object","properties":{"a":{"const":1}},"additionalProperties":{"type":"integer"}}"#)
        #expect(extra.matches(bytes(#"{"a":1,"b":2,"c":3}"#)) && extra.matches(bytes(#"{"z":2}"#)) && extra.matches(bytes("{}")) && !extra.isPrefix(bytes(#"{"b":"x"#)))
        let formats = try schemaAutomaton(#"{"type":"array","prefixItems":[{"type":"string","format":"date"},{"type":"string","format":"uuid"},{"type":"string","minLength":2,"maxLength":3}],"items":false}"#)
        #expect(formats.matches(bytes(#"["2024-02-29","123e4567-e89b-12d3-a456-426614174000","éé"]"#)))
        #expect(!formats.isPrefix(bytes(#"["2024-13"#)))
        #expect(!formats.matches(bytes(#"["2024-02-29","123e4567-e89b-12d3-a456-426614174000","éééé"]"#)))
        let anything = try schemaAutomaton("true")
        #expect(anything.matches(bytes(#"[{"a":[]},"x",-1.5e-3,null]"#)))
    }

    @Test func integerAndDecimalBoundsAreExact() throws {
        var random = TestRandom(7)
        for _ in 0..<40 {
            let lo = random.int(400) - 200, hi = lo + random.int(300)
            let useLo = random.chance(0.8), useHi = random.chance(0.8)
            var schema = #"{"type":"integer""#
            if useLo { schema += random.chance(0.5) ? ",\"minimum\":\(lo)" : ",\"exclusiveMinimum\":\(lo - 1)" }
            if useHi { schema += ",\"maximum\":\(hi)" }
            schema += "}"
            let a = try schemaAutomaton(schema)
            for v in -350...350 {
                let inside = (!useLo || v >= lo) && (!useHi || v <= hi)
                #expect(a.matches(bytes(String(v))) == inside, "\(schema) \(v)")
            }
            #expect(!a.matches(bytes("-0")) && !a.isPrefix(bytes("00")))
        }
        let unit = try schemaAutomaton(#"{"type":"number","minimum":0,"maximum":1}"#)
        for (text, ok) in [("0", true), ("0.5", true), ("1", true), ("1.0", true), ("1.5", false), ("-0.1", false), ("0.999", true)] {
            #expect(unit.matches(bytes(text)) == ok, "\(text)")
        }
        let open = try schemaAutomaton(#"{"type":"number","exclusiveMinimum":-2,"exclusiveMaximum":3}"#)
        for (text, ok) in [("-2", false), ("-1.99", true), ("-2.5", false), ("-2.0", false), ("-2.01", false), ("0", true), ("2.9", true), ("3", false), ("3.0", false), ("-0", false), ("-0.5", true)] {
            #expect(open.matches(bytes(text)) == ok, "\(text)")
        }
    }

    @Test func impossibleAndUnsupportedSchemasAreErrors() {
        #expect(schemaError(#"{"enum":[]}"#).contains("'enum' at # is empty"))
        #expect(schemaError(#"{"type":"array","minItems":3,"maxItems":2}"#).contains("minItems 3 is greater than maxItems 2"))
        #expect(schemaError(#"{"type":"object","properties":{"x":{"type":"string","pattern":"^a"}}}"#).contains("unsupported keyword 'pattern' at #/properties/x"))
        #expect(schemaError("false").contains("can never be satisfied"))
        #expect(schemaError(#"{"type":"integer","minimum":5,"maximum":4}"#).contains("no integer"))
        #expect(schemaError(#"{"type":"number","minimum":0.5}"#).contains("whole numbers"))
        #expect(schemaError(##"{"$ref":"#/$defs/missing"}"##).contains("does not point"))
        #expect(schemaError(#"{"$ref":"https://example.com/s.json"}"#).contains("unsupported $ref"))
        #expect(schemaError(#"{"type":"thing"}"#).contains("unknown type 'thing'"))
        #expect(schemaError(#"{"type":"array","items":{"type":"string","uniqueItems":true}}"#).contains("'uniqueItems' at #/items"))
        #expect(schemaError(#"{"type":"object","required":["a"]}"#).contains("required property 'a'"))
        #expect(schemaError(#"{"allOf":[{"type":"string"},{"minLength":1}]}"#).contains("allOf"))
    }

    // MARK: Masks

    /// A synthetic vocabulary: every single byte, JSON-ish fragments, multi-byte characters
    /// split across tokens, and one end-of-generation token (the last id).
    static func syntheticVocabulary(extra: [String] = []) -> (pieces: [[UInt8]], trie: VocabularyTrie) {
        var pieces: [[UInt8]] = (0..<256).map { [UInt8($0)] }
        let fragments = ["{\"", "\":", "\": ", "\",", "\", \"", "\"}", "}}", "]}", "}]", "true", "false", "null", "12", "0.", ".5", "-1",
                         " \"", "\\\"", "\\n", "é", "😀", "ab", "abc", "\"a", "name", "age", "\"name\":\"", "[\"", "\"]", "e+", "E-1",
                         "2024-", "-01", "aaaa", ",\"", "\n", "  ", "x\"", "[1,", "1]", "<tool_call>", "</tool_call>", "\n</", "},{"]
        for f in fragments + extra { pieces.append(Array(f.utf8)) }
        pieces.append([])  // unused token: never allowed
        pieces.append([])  // end of generation
        let eog = Int32(pieces.count - 1)
        return (pieces, VocabularyTrie(pieces: pieces, endOfGeneration: [eog]))
    }

    /// Random walks through the masks: every allowed token keeps the output a valid prefix
    /// (checked by replaying from scratch), every forbidden one does not, some token is always
    /// allowed while incomplete, and the completed outputs are returned.
    static func randomWalks(_ grammar: Grammar, pieces: [[UInt8]], trie: VocabularyTrie, walks: Int, seed: UInt64,
                            maxSteps: Int = 120) throws -> [[UInt8]] {
        var random = TestRandom(seed)
        var completed: [[UInt8]] = []
        let reference = GrammarAutomaton(grammar: grammar)
        let eog = trie.endOfGenerationIDs[0]
        for _ in 0..<walks {
            let masker = TokenMasker(grammar: grammar, trie: trie)
            var output: [UInt8] = []
            for _ in 0..<maxSteps {
                if masker.isFinished { completed.append(output); break }
                var allowed: [Int32] = []
                for id in 0..<Int32(pieces.count) {
                    let ok = masker.isAllowed(id)
                    if id == eog {
                        #expect(ok == masker.isComplete)
                    } else if pieces[Int(id)].isEmpty {
                        #expect(!ok)
                    } else {
                        let valid = reference.isPrefix(output + pieces[Int(id)])
                        if ok != valid {
                            Issue.record("token \(String(decoding: pieces[Int(id)], as: UTF8.self).debugDescription) after \(String(decoding: output, as: UTF8.self).debugDescription): mask \(ok), prefix \(valid)")
                        }
                    }
                    if ok { allowed.append(id) }
                }
                #expect(allowed.count == masker.allowedCount())
                if allowed.isEmpty { Issue.record("no token allowed after \(String(decoding: output, as: UTF8.self).debugDescription)"); break }
                var pick = allowed[random.int(allowed.count)]
                if allowed.contains(eog) && random.chance(0.5) {
                    pick = eog
                } else if random.chance(0.6) {
                    // Favour tokens that close things, so walks finish.
                    let closing = allowed.filter { id in pieces[Int(id)].contains { b in b == 0x22 || b == 0x7D || b == 0x5D || b == 0x2C } }
                    if !closing.isEmpty { pick = closing[random.int(closing.count)] }
                }
                try masker.accept(pick)
                if pick == eog { completed.append(output); break }
                output += pieces[Int(pick)]
            }
        }
        return completed
    }

    @Test func masksMatchTheGrammarOnRandomSchemas() throws {
        let (pieces, trie) = Self.syntheticVocabulary()
        var random = TestRandom(42)
        var finished = 0
        for round in 0..<12 {
            let schema = Self.randomSchema(&random, depth: 0)
            let grammar = try JSONSchemaGrammar.grammar(for: schema)
            for output in try Self.randomWalks(grammar, pieces: pieces, trie: trie, walks: 4, seed: UInt64(round)) {
                finished += 1
                let value = try JSONValue(parsing: output)
                if let problem = SchemaValidator.validate(value, schema) {
                    Issue.record("\(String(decoding: output, as: UTF8.self)) does not match \(schema.serialized()): \(problem)")
                }
            }
        }
        #expect(finished >= 10)
    }

    static func randomSchema(_ r: inout TestRandom, depth: Int) -> JSONValue {
        let leafKinds = 7, kinds = depth < 2 ? 10 : leafKinds
        switch r.int(kinds) {
        case 0: return ["type": "string"]
        case 1: return ["type": "integer", "minimum": .integer(r.int(50) - 20), "maximum": .integer(40 + r.int(200))]
        case 2: return ["type": "number"]
        case 3: return ["type": "boolean"]
        case 4: return ["enum": ["red", "green", .integer(3), .null]]
        case 5: return ["type": "string", "maxLength": .integer(1 + r.int(4))]
        case 6: return ["type": ["string", "null"]]
        case 7:
            var props = JSONObject()
            var required: [JSONValue] = []
            for i in 0..<(1 + r.int(3)) {
                let name = ["a", "name", "age", "b\"q", "é"][i % 5] + (i >= 5 ? "\(i)" : "")
                props[name] = randomSchema(&r, depth: depth + 1)
                if r.chance(0.6) { required.append(.string(name)) }
            }
            return ["type": "object", "properties": .object(props), "required": .array(required)]
        case 8:
            let lo = r.int(2)
            return ["type": "array", "items": randomSchema(&r, depth: depth + 1), "minItems": .integer(lo), "maxItems": .integer(lo + r.int(3))]
        default:
            return ["anyOf": [randomSchema(&r, depth: depth + 1), randomSchema(&r, depth: depth + 1)]]
        }
    }

    /// Random GBNF grammars, printed as text (so the parser is exercised too); completed
    /// outputs are checked against an independent backtracking matcher.
    @Test func masksMatchTheGrammarOnRandomGBNF() throws {
        let (pieces, trie) = Self.syntheticVocabulary()
        var random = TestRandom(99)
        var finished = 0
        for round in 0..<16 {
            let (text, rules) = Self.randomGBNF(&random)
            let grammar = try GBNFParser.parse(text)
            for output in try Self.randomWalks(grammar, pieces: pieces, trie: trie, walks: 3, seed: UInt64(round), maxSteps: 60) {
                finished += 1
                let ends = NaiveMatcher(rules: rules).match(.reference("root"), Array(output), 0, depth: 0)
                #expect(ends.contains(output.count), "\(text) should match \(String(decoding: output, as: UTF8.self).debugDescription)")
            }
        }
        #expect(finished >= 10)
    }

    static func randomGBNF(_ r: inout TestRandom) -> (String, [String: GrammarExpression]) {
        var rules: [String: GrammarExpression] = [:]
        var text = ""
        func atom(_ depth: Int, _ ruleIndex: Int) -> (String, GrammarExpression) {
            switch r.int(depth > 2 ? 4 : 7) {
            case 0:
                let options: [(String, String)] = [("a", "a"), ("ab", "ab"), ("\\\"", "\""), ("{", "{"), ("}", "}"), ("é", "é"), ("12", "12"), ("x\\\"y", "x\"y")]
                let (source, value) = options[r.int(options.count)]
                return ("\"\(source)\"", .string(value))
            case 1: return ("[a-c]", .characters([0x61...0x63], negated: false))
            case 2: return ("[^a\"]", .characters([0x61...0x61, 0x22...0x22], negated: true))
            case 3 where ruleIndex < 2:
                return ("r\(ruleIndex + 1)", .reference("r\(ruleIndex + 1)"))
            case 3: return ("[0-9]", .characters([0x30...0x39], negated: false))
            case 4:
                let (t, e) = atom(3, ruleIndex)  // a terminal or reference: never empty
                let kind = r.int(4)
                switch kind {
                case 0: return ("(\(t))*", .repetition(e, min: 0, max: nil))
                case 1: return ("(\(t))+", .repetition(e, min: 1, max: nil))
                case 2: return ("(\(t))?", .repetition(e, min: 0, max: 1))
                default: return ("(\(t)){1,3}", .repetition(e, min: 1, max: 3))
                }
            case 5:
                let (t1, e1) = atom(depth + 1, ruleIndex), (t2, e2) = atom(depth + 1, ruleIndex)
                return ("(\(t1) | \(t2))", .choice([e1, e2]))
            default:
                let (t1, e1) = atom(depth + 1, ruleIndex), (t2, e2) = atom(depth + 1, ruleIndex)
                return ("(\(t1) \(t2))", .sequence([e1, e2]))
            }
        }
        for (index, name) in ["root", "r1", "r2"].enumerated() {
            var parts: [String] = [], exprs: [GrammarExpression] = []
            // A terminal first keeps rules from being left-recursive.
            let lead = ["\"<\"", "[xy]", "\"q\""][index]
            exprs.append(index == 1 ? .characters([0x78...0x79], negated: false) : .string(index == 0 ? "<" : "q"))
            parts.append(lead)
            for _ in 0..<(1 + r.int(3)) {
                let (t, e) = atom(0, index)
                parts.append(t); exprs.append(e)
            }
            text += "\(name) ::= \(parts.joined(separator: " "))\n"
            rules[name] = .sequence(exprs)
        }
        return (text, rules)
    }

    @Test func anyJSONAndToolCallGrammars() throws {
        let object = GrammarAutomaton(grammar: try JSONSchemaGrammar.anyJSON(objectOnly: true))
        #expect(object.matches(bytes(#"{"a":[1,{"b":null}],"c":"d"}"#)) && !object.isPrefix(bytes("[")))
        let qwenish = ToolCallFormat(templateSource: "{% if tools %}... <tool_call>\\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\\n</tool_call>{% endif %}")
        #expect(qwenish.prefix == "<tool_call>\n" && qwenish.suffix == "\n</tool_call>" && qwenish.templateHandlesTools)
        let tools = try ToolDefinition.list(from: try JSONValue(parsing: #"[{"type":"function","function":{"name":"get_weather","description":"d","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}},{"type":"function","function":{"name":"now"}}]"#))
        let spec = ToolCallSpec(tools: tools, choice: .required, format: nil)
        let a = GrammarAutomaton(grammar: try spec.grammar(format: qwenish))
        #expect(a.matches(bytes("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>")))
        #expect(a.matches(bytes("<tool_call>\n{\"name\":\"now\",\"arguments\":{}}\n</tool_call>")))
        #expect(!a.isPrefix(bytes("<tool_call>\n{\"name\": \"other")))
        #expect(!a.isPrefix(bytes("<tool_call>\n{\"name\": \"now\", \"arguments\": {\"city\"")))
        let calls = try ToolCalling.parse("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>", format: qwenish)
        #expect(calls[0]?["type"] == "function")
        #expect(calls[0]?["function"]?["name"] == "get_weather")
        #expect(calls[0]?["function"]?["arguments"] == #"{"city": "Paris"}"#)  // as the model wrote it
        #expect(calls[0]?["id"]?.stringValue?.hasPrefix("call_") == true)
        let only = ToolCallSpec(tools: tools, choice: .function("now"), format: nil)
        #expect(!GrammarAutomaton(grammar: try only.grammar(format: ToolCallFormat())).isPrefix(bytes(#"{"name":"get"#)))
    }

    @Test func generationOptionsJSONKeys() throws {
        let schema = try GenerationOptions(json: Array(#"{"jsonSchema":{"type":"object","properties":{"a":{"type":"integer"}}},"maxTokens":5}"#.utf8))
        #expect(schema.constraint != nil && schema.maxTokens == 5)
        #expect(try GenerationOptions(json: Array(#"{"grammar":"root ::= \"x\""}"#.utf8)).constraint != nil)
        #expect(try GenerationOptions(json: Array(#"{"json":true}"#.utf8)).constraint != nil)
        #expect(try GenerationOptions(json: Array(#"{"json":false}"#.utf8)).constraint == nil)
        #expect(try GenerationOptions(json: Array(#"{"tools":[{"type":"function","function":{"name":"f"}}],"toolChoice":"none"}"#.utf8)).constraint == nil)
        #expect(try GenerationOptions(json: Array(#"{"tools":[{"type":"function","function":{"name":"f"}}],"toolChoice":"auto"}"#.utf8)).constraint != nil)
        func kind(_ text: String) -> TinyLMError.Kind? {
            do { _ = try GenerationOptions(json: Array(text.utf8)); return nil } catch { return error.kind }
        }
        #expect(kind(#"{"grammar":"root ::= "}"#) == nil)
        #expect(kind(#"{"grammar":"root ::= ("}"#) == .grammar)
        #expect(kind(#"{"jsonSchema":{"enum":[]}}"#) == .grammar)
        #expect(kind(#"{"json":true,"grammar":"root ::= \"x\""}"#) == .invalidArgument)
        #expect(kind(#"{"grammar":5}"#) == .invalidArgument)
    }
}

/// An independent, exponential-time matcher over grammar expressions: the set of end offsets
/// at which `e` can finish matching `input` from `start`.
struct NaiveMatcher {
    let rules: [String: GrammarExpression]

    func match(_ e: GrammarExpression, _ input: [UInt8], _ start: Int, depth: Int) -> Set<Int> {
        if depth > 60 { return [] }
        switch e {
        case .bytes(let s): return start < input.count && s.contains(input[start]) ? [start + 1] : []
        case .literal(let l):
            return start + l.count <= input.count && Array(input[start..<(start + l.count)]) == l ? [start + l.count] : []
        case .characters(let ranges, let negated):
            guard start < input.count else { return [] }
            let b0 = input[start]
            let n = b0 < 0x80 ? 1 : b0 >= 0xF0 ? 4 : b0 >= 0xE0 ? 3 : 2
            guard start + n <= input.count else { return [] }
            var scalar = n == 1 ? UInt32(b0) : n == 2 ? UInt32(b0 & 0x1F) : n == 3 ? UInt32(b0 & 0x0F) : UInt32(b0 & 0x07)
            for k in 1..<max(n, 1) where n > 1 {
                guard input[start + k] & 0xC0 == 0x80 else { return [] }
                scalar = scalar << 6 | UInt32(input[start + k] & 0x3F)
            }
            let inside = ranges.contains { $0.contains(scalar) }
            return inside != negated ? [start + n] : []
        case .reference(let name): return match(rules[name]!, input, start, depth: depth + 1)
        case .sequence(let items):
            var positions: Set<Int> = [start]
            for item in items {
                var next: Set<Int> = []
                for p in positions { next.formUnion(match(item, input, p, depth: depth + 1)) }
                positions = next
                if positions.isEmpty { break }
            }
            return positions
        case .choice(let options):
            var out: Set<Int> = []
            for o in options { out.formUnion(match(o, input, start, depth: depth + 1)) }
            return out
        case .repetition(let item, let min, let max):
            var out: Set<Int> = min == 0 ? [start] : []
            var frontier: Set<Int> = [start]
            var count = 0
            while !frontier.isEmpty && count < (max ?? input.count + 1) {
                var next: Set<Int> = []
                for p in frontier { next.formUnion(match(item, input, p, depth: depth + 1)) }
                count += 1
                if count >= min { out.formUnion(next) }
                frontier = next
            }
            return out
        }
    }
}
