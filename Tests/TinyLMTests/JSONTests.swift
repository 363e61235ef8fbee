import Foundation
import Testing
import TinyLM

@Suite("JSON value, parser and serializer")
struct JSONTests {
    @Test func parsesAllKindsAndKeepsKeyOrder() throws {
        let value = try JSONValue(parsing: #" { "z": 1, "a": [true, false, null], "m": {"y": -2.5e3, "x": "s"}, "i": -0 } "#)
        guard case let .object(object) = value else { Issue.record("not an object"); return }
        #expect(object.keys == ["z", "a", "m", "i"])
        #expect(value["z"] == .integer(1))
        #expect(value["a"] == [true, false, nil])
        #expect(value["m"]?["y"] == .number(-2500))
        #expect(value["m"]?.objectValue?.keys == ["y", "x"])
        #expect(value["i"] == .integer(0))
    }

    @Test func integersStayDistinctFromFloats() throws {
        let value = try JSONValue(parsing: "[1, 1.0, 1e2, -7, 9223372036854775807, 9223372036854775808, 0.1]")
        #expect(value[0].map { if case .integer = $0 { return true } else { return false } } == true)
        #expect(value[1].map { if case .number = $0 { return true } else { return false } } == true)
        #expect(value.serialized(.python) == "[1, 1.0, 100.0, -7, 9223372036854775807, 9.223372036854776e+18, 0.1]")
    }

    @Test func roundTripsThroughSerialization() throws {
        let text = #"{"name":"tool","args":{"city":"Paris","n":[1,2.5,-3e-7,true,null]},"empty":{},"list":[]}"#
        let value = try JSONValue(parsing: text)
        #expect(value.serialized(.compact) == #"{"name":"tool","args":{"city":"Paris","n":[1,2.5,-3e-07,true,null]},"empty":{},"list":[]}"#)
        #expect(try JSONValue(parsing: value.serialized(.compact)) == value)
        #expect(try JSONValue(parsing: value.serialized(.pythonIndented(4))) == value)
        #expect(value.serialized(.python) == #"{"name": "tool", "args": {"city": "Paris", "n": [1, 2.5, -3e-07, true, null]}, "empty": {}, "list": []}"#)
    }

    @Test func pythonIndentedLayout() {
        let value: JSONValue = ["a": [1, 2], "b": [:], "c": []]
        #expect(value.serialized(.pythonIndented(2)) == "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": {},\n  \"c\": []\n}")
        var sorted = JSONFormat.python
        sorted.sortKeys = true
        let unsorted: JSONValue = ["b": 1, "a": 2]
        #expect(unsorted.serialized(sorted) == #"{"a": 2, "b": 1}"#)
    }

    @Test func stringEscapes() throws {
        let value = try JSONValue(parsing: #""q\" b\\ s\/ \b\f\n\r\t \u00e9 \u2028 \ud83d\ude00 é""#)
        #expect(value == .string("q\" b\\ s/ \u{8}\u{c}\n\r\t é \u{2028} 😀 é"))
        #expect(value.serialized(.compact) == "\"q\\\" b\\\\ s/ \\b\\f\\n\\r\\t é \u{2028} 😀 é\"")
        var ascii = JSONFormat.compact
        ascii.escapeNonASCII = true
        #expect(JSONValue.string("é😀\u{1}").serialized(ascii) == #""\u00e9\ud83d\ude00\u0001""#)
        // Lone surrogates become U+FFFD.
        #expect(try JSONValue(parsing: #""\ud800x""#) == .string("\u{FFFD}x"))
        #expect(try JSONValue(parsing: #""\udc00""#) == .string("\u{FFFD}"))
    }

    @Test func numbersParseWithCorrectRounding() throws {
        let cases: [(String, Double)] = [
            ("0.1", 0.1), ("2.2250738585072014e-308", 2.2250738585072014e-308), ("5e-324", 5e-324),
            ("1.7976931348623157e308", 1.7976931348623157e308), ("1e400", .infinity), ("1e-400", 0),
            ("123456789012345678901234567890", 1.2345678901234568e29), ("0.30000000000000004", 0.30000000000000004),
            ("9007199254740993", 9007199254740992), ("2.4703282292062328e-324", 5e-324),
            ("2.4703282292062327e-324", 0), ("1.00000000000000011102230246251565404236316680908203125", 1.0),
            ("1.00000000000000011102230246251565404236316680908203126", 1.0000000000000002),
        ]
        for (text, expected) in cases {
            let value = try JSONValue(parsing: "[" + text + "]")
            #expect(value[0]?.doubleValue == expected, "\(text)")
        }
    }

    @Test func floatsPrintLikePythonRepr() {
        let cases: [(Double, String)] = [
            (1, "1.0"), (0.1, "0.1"), (1e16, "1e+16"), (1e15, "1000000000000000.0"), (1e-5, "1e-05"),
            (0.0001, "0.0001"), (-0.0, "-0.0"), (1.5e300, "1.5e+300"), (123.456, "123.456"), (5e-324, "5e-324"),
        ]
        for (value, expected) in cases {
            #expect(JSONValue.number(value).serialized() == expected)
        }
    }

    @Test func errorsReportPositions() {
        func error(_ text: String) -> JSONError? {
            do { _ = try JSONValue(parsing: text); return nil } catch { return error }
        }
        #expect(error("{\"a\": }")?.offset == 6)
        #expect(error("[1, 2")?.message.contains("end of input") == true)
        let multiline = error("{\n  \"a\": 1,\n  \"b\" 2\n}")
        #expect(multiline?.line == 3)
        #expect(multiline?.column == 7)
        #expect(multiline?.description.contains("line 3, column 7") == true)
        #expect(error("[01]") != nil)
        #expect(error("[1.]") != nil)
        #expect(error("\"tab\there\"") != nil)
        #expect(error("[1] x") != nil)
        #expect(error("nul") != nil)
        #expect(error("{\"a\" 1}") != nil)
        #expect(error("\"\\x\"") != nil)
        #expect(error("") != nil)
    }

    @Test func depthLimit() throws {
        let ok = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: Never.self) { try JSONValue(parsing: ok) }
        let tooDeep = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        do {
            _ = try JSONValue(parsing: tooDeep)
            Issue.record("expected a depth error")
        } catch {
            #expect(error.message.contains("depth"))
        }
        #expect(throws: Never.self) { try JSONValue(parsing: tooDeep, maxDepth: 500) }
    }

    @Test func objectEditingAndDuplicates() throws {
        var object = JSONObject()
        object["b"] = 1
        object["a"] = 2
        object["b"] = 3
        #expect(object.keys == ["b", "a"])
        #expect(object["b"] == 3)
        object["b"] = nil
        #expect(object.keys == ["a"])
        #expect(object["a"] == 2)
        let parsed = try JSONValue(parsing: #"{"k": 1, "j": 2, "k": 3}"#)
        #expect(parsed.objectValue?.keys == ["k", "j"])
        #expect(parsed["k"] == 3)
        let xy: JSONValue = ["x": 1, "y": 2]
        let yx: JSONValue = ["y": 2, "x": 1]
        #expect(xy == yx)
    }
}
