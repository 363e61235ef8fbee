import Foundation
import Testing
import TinyLM

/// Helpers for the chat-template tests (kept local so this file stands alone).
private enum TemplateFixtures {
    static let repoRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let referenceDirectory = repoRoot.deletingLastPathComponent()
        .appendingPathComponent("shared/reference/chat-templates")

    /// The reference clock: render.py fixes strftime_now at 2026-01-02 03:04:05.
    static let referenceNow = TemplateDateTime(year: 2026, month: 1, day: 2, hour: 3, minute: 4, second: 5)

    struct Missing: Error, CustomStringConvertible { let description: String }

    static func read(_ relativePath: String) throws -> String {
        let url = referenceDirectory.appendingPathComponent(relativePath)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw Missing(description: "missing reference file \(url.path) (expected ../shared/reference next to the repo)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    static func render(_ source: String, _ context: JSONValue = [:], now: TemplateDateTime? = referenceNow,
                       limits: TemplateLimits = TemplateLimits()) throws -> String {
        try ChatTemplate(source: source, limits: limits).render(context: context, options: TemplateRenderOptions(limits: limits, now: now))
    }

    /// The error a template produces, or nil if it renders.
    static func error(_ source: String, _ context: JSONValue = [:], limits: TemplateLimits = TemplateLimits()) -> TemplateError? {
        do {
            _ = try ChatTemplate(source: source, limits: limits)
                .render(context: context, options: TemplateRenderOptions(limits: limits, now: referenceNow))
            return nil
        } catch {
            return error
        }
    }

    static func conversation(turns: Int) -> JSONValue {
        var messages: [JSONValue] = [["role": "system", "content": "You are a helpful assistant."]]
        for i in 0..<turns {
            messages.append(["role": "user", "content": .string("Question number \(i): what is \(i) + \(i)? Please explain.")])
            messages.append(["role": "assistant", "content": .string("The answer is \(i + i). Adding a number to itself doubles it.")])
        }
        return ["messages": .array(messages), "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>"]
    }
}

@Suite("Chat templates: Hugging Face reference renders")
struct ChatTemplateReferenceTests {
    @Test("all 120 reference cases render byte for byte (or fail where jinja2 fails)")
    func referenceRenders() throws {
        let lines = try TemplateFixtures.read("renders.jsonl").split(separator: "\n")
        #expect(lines.count == 120)
        var templates: [String: ChatTemplate] = [:]
        var passed = 0
        for line in lines {
            let record = try JSONValue(parsing: String(line))
            let name = try #require(record["template"]?.stringValue)
            let caseName = record["case"]?.stringValue ?? "?"
            let context = try #require(record["context"])
            let template: ChatTemplate
            if let cached = templates[name] {
                template = cached
            } else {
                template = try ChatTemplate(source: try TemplateFixtures.read("templates/" + name))
                templates[name] = template
            }
            let options = TemplateRenderOptions(now: TemplateFixtures.referenceNow)
            if let expected = record["output"]?.stringValue {
                do {
                    let output = try template.render(context: context, options: options)
                    #expect(output == expected, "\(name) / \(caseName)")
                    if output == expected { passed += 1 }
                } catch {
                    Issue.record("\(name) / \(caseName): unexpected error \(error.description)")
                }
            } else {
                #expect(record["error"] != nil)
                do {
                    let output = try template.render(context: context, options: options)
                    Issue.record("\(name) / \(caseName): expected an error, rendered \(output.utf8.count) bytes")
                } catch {
                    passed += 1
                }
            }
        }
        #expect(passed == 120)
        print("chat-template reference cases passed: \(passed)/\(lines.count)")
    }

    @Test("error cases fail for the template's own reason")
    func referenceErrorMessages() throws {
        let gemma = try ChatTemplate(source: try TemplateFixtures.read("templates/google-gemma-2-2b-it.jinja"))
        let context: JSONValue = ["messages": [["role": "system", "content": "x"], ["role": "user", "content": "y"]], "bos_token": "<s>"]
        #expect(throws: TemplateError(.raised, "System role not supported", line: 1)) {
            try gemma.render(context: context)
        }
        let kimi = try ChatTemplate(source: try TemplateFixtures.read("templates/Kimi-K2-Instruct.jinja"))
        let roundtrip: JSONValue = ["messages": [
            ["role": "user", "content": "Weather?"],
            ["role": "assistant", "content": "", "tool_calls": [["id": "c1", "type": "function", "function": ["name": "w", "arguments": ["city": "Paris"]]]]],
        ]]
        do {
            _ = try kimi.render(context: roundtrip)
            Issue.record("list.append must be refused by the sandbox")
        } catch {
            #expect(error.kind == .security)
        }
    }

    @Test("strftime_now uses the caller's clock and is undefined without one")
    func clock() throws {
        let source = "{{ strftime_now('%Y-%m-%d %H:%M:%S %B %b %d %A %a %-d %j %p %I') }}"
        #expect(try TemplateFixtures.render(source) == "2026-01-02 03:04:05 January Jan 02 Friday Fri 2 002 AM 03")
        #expect(try TemplateFixtures.render("{{ strftime_now is defined }}", now: nil) == "False")
        let llama = try TemplateFixtures.read("templates/meta-llama-Llama-3.2-3B-Instruct.jinja")
        let context: JSONValue = ["messages": [["role": "user", "content": "hi"]], "bos_token": "<s>"]
        #expect(try TemplateFixtures.render(llama, context, now: nil).contains("Today Date: 26 Jul 2024"))
        #expect(try TemplateFixtures.render(llama, context).contains("Today Date: 02 Jan 2026"))
        #expect(TemplateFixtures.error("{{ strftime_now('%Y') }}", [:], limits: TemplateLimits()) == nil)
        do {
            _ = try ChatTemplate(source: "{{ strftime_now('%Y') }}").render(context: [:])
            Issue.record("strftime_now without a clock must fail")
        } catch {
            #expect(error.kind == .undefined)
        }
    }
}

@Suite("Chat templates: lexer and whitespace control")
struct ChatTemplateWhitespaceTests {
    @Test func trimBlocksRemovesOneNewlineAfterBlockTags() throws {
        #expect(try TemplateFixtures.render("{% if true %}\nA\n{% endif %}\nB") == "A\nB")
        #expect(try TemplateFixtures.render("{% if true %}\n\nA{% endif %}") == "\nA")
        #expect(try TemplateFixtures.render("{# c #}\nA") == "A")
        // Not after variable tags.
        #expect(try TemplateFixtures.render("{{ 'x' }}\nA") == "x\nA")
    }

    @Test func lstripBlocksRemovesIndentationBeforeBlockTags() throws {
        #expect(try TemplateFixtures.render("  {% if true %}\n    yes\n  {% endif %}\n  done") == "    yes\n  done")
        #expect(try TemplateFixtures.render("\t{% if true %}x{% endif %}") == "x")
        // Not before variable tags, and not when text precedes the tag on the line.
        #expect(try TemplateFixtures.render("  {{ 'v' }}") == "  v")
        #expect(try TemplateFixtures.render("a  {% if true %}b{% endif %}") == "a  b")
        // `+` disables lstrip for that tag.
        #expect(try TemplateFixtures.render("  {%+ if true %}b{% endif %}") == "  b")
    }

    @Test func minusStripsAllWhitespaceIncludingNewlines() throws {
        #expect(try TemplateFixtures.render("a  \n  {%- if true -%}  \n  b  \n  {%- endif -%}\n  c") == "abc")
        #expect(try TemplateFixtures.render("a\n{{- ' b ' -}}\nc") == "a b c")
        #expect(try TemplateFixtures.render("x {#- comment -#} y") == "xy")
    }

    @Test func plusKeepsTheNewlineAfterABlock() throws {
        #expect(try TemplateFixtures.render("{% if true +%}\nA{% endif %}") == "\nA")
    }

    @Test func oneTrailingNewlineOfTheTemplateIsDropped() throws {
        #expect(try TemplateFixtures.render("abc\n") == "abc")
        #expect(try TemplateFixtures.render("abc\n\n") == "abc\n")
        #expect(try TemplateFixtures.render("a\r\nb") == "a\nb")
    }

    @Test func rawBlocksAndLiteralBraces() throws {
        #expect(try TemplateFixtures.render("{% raw %}{{ x }}{% endraw %}") == "{{ x }}")
        #expect(try TemplateFixtures.render("{{ '{{' }} {{ \"}}\" }}") == "{{ }}")
        #expect(try TemplateFixtures.render("{{ {'a': {'b': 1}} }}") == "{'a': {'b': 1}}")
    }

    @Test func stringLiteralEscapes() throws {
        #expect(try TemplateFixtures.render(#"{{ 'a\nb\t\\\'\x41\u00e9' }}"#) == "a\nb\t\\'Aé")
        #expect(try TemplateFixtures.render(#"{{ 'a' "b" 'c' }}"#) == "abc")
        #expect(try TemplateFixtures.render(#"{{ '\d' }}"#) == "\\d")
    }

    @Test func syntaxErrorsCarryLineNumbers() throws {
        let error = try #require(TemplateFixtures.error("ok\n{% if %}"))
        #expect(error.kind == .syntax)
        #expect(error.line == 2)
        #expect(TemplateFixtures.error("{% for x in y %}")?.kind == .syntax)
        #expect(TemplateFixtures.error("{{ 1 + }}")?.kind == .syntax)
        #expect(TemplateFixtures.error("{% endif %}")?.kind == .syntax)
        #expect(TemplateFixtures.error("{% include 'x' %}")?.kind == .syntax)
        #expect(TemplateFixtures.error("{{ (1 }}")?.kind == .syntax)
        #expect(TemplateFixtures.error("{% break %}")?.kind == .syntax)
    }
}

@Suite("Chat templates: expressions, values and statements")
struct ChatTemplateSemanticsTests {
    let users: JSONValue = ["users": [["name": "bob", "age": 42, "admin": true], ["name": "al", "age": 25, "admin": false]]]

    @Test func valuesPrintLikePythonStr() throws {
        #expect(try TemplateFixtures.render("{{ none }} {{ true }} {{ 1 }} {{ 1.0 }} {{ 0.1 + 0.2 }} {{ 1e16 }} {{ 1.5e-7 }} {{ 10 / 4 }}")
            == "None True 1 1.0 0.30000000000000004 1e+16 1.5e-07 2.5")
        #expect(try TemplateFixtures.render(#"{{ ['a', "it's", 1, none, [true]] }} {{ {'k': 'v', 'n': 2.0} }} {{ (1,) }}"#)
            == #"['a', "it's", 1, None, [True]] {'k': 'v', 'n': 2.0} (1,)"#)
        #expect(try TemplateFixtures.render("{{ x }}|{{ x ~ 'a' }}|{{ x|length }}") == "|a|0")
    }

    @Test func arithmeticFollowsPython() throws {
        #expect(try TemplateFixtures.render("{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 'ab' * 2 }} {{ [1] + [2] }} {{ 1 + 2 * 3 }}")
            == "3 -4 2 1024 abab [1, 2] 7")
        #expect(try TemplateFixtures.render("{{ 1 and 'x' }} {{ 0 or 'y' }} {{ not [] }} {{ 'a' if 0 else 'b' }}") == "x y True b")
        #expect(try TemplateFixtures.render("{{ 'b' in 'abc' }} {{ 2 not in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 1 == 1.0 }} {{ 1 < 2 < 3 }}")
            == "True False True True True")
        #expect(try TemplateFixtures.render("{{ '%s=%d' % ('a', 3) }}") == "a=3")
    }

    @Test func runtimeErrors() throws {
        #expect(TemplateFixtures.error("{{ 1 / 0 }}")?.kind == .type)
        #expect(TemplateFixtures.error("{{ 5 % 0 }}")?.kind == .type)
        #expect(TemplateFixtures.error("{{ 'a' + 1 }}")?.kind == .type)
        #expect(TemplateFixtures.error("{{ 9223372036854775807 + 1 }}")?.kind == .type)
        #expect(TemplateFixtures.error("{{ 2 ** 64 }}")?.kind == .type)
        #expect(TemplateFixtures.error("{{ missing.attr }}")?.kind == .undefined)
        #expect(TemplateFixtures.error("{{ missing['k'] }}")?.kind == .undefined)
        #expect(TemplateFixtures.error("{{ missing() }}")?.kind == .undefined)
        #expect(TemplateFixtures.error("{{ raise_exception('no') }}") == TemplateError(.raised, "no", line: 1))
        #expect(TemplateFixtures.error("{{ [1].append(2) }}")?.kind == .security)
        #expect(TemplateFixtures.error("{{ {'a': 1}.update({}) }}")?.kind == .security)
        #expect(TemplateFixtures.error("{{ x|nosuchfilter }}")?.kind == .syntax)
        // Missing keys and attributes of None are undefined, not errors.
        #expect(try TemplateFixtures.render("{{ users[0].missing }}{{ none.x }}{{ [1][5] }}", users) == "")
    }

    @Test func loops() throws {
        #expect(try TemplateFixtures.render("{% for x in 'abc' %}{{ loop.index }}{{ x }}{{ '.' if loop.last }}{% endfor %}") == "1a2b3c.")
        #expect(try TemplateFixtures.render("{% for k, v in {'b': 1, 'a': 2}.items() %}{{ k }}{{ v }}{% endfor %}") == "b1a2")
        #expect(try TemplateFixtures.render("{% for x in [1, 2, 3, 4] if x is even %}{{ x }}/{{ loop.length }} {% endfor %}") == "2/2 4/2 ")
        #expect(try TemplateFixtures.render("{% for x in [] %}x{% else %}none{% endfor %}") == "none")
        #expect(try TemplateFixtures.render("{% for x in range(9) %}{% if x == 4 %}{% break %}{% endif %}{% if x is odd %}{% continue %}{% endif %}{{ x }}{% endfor %}") == "02")
        #expect(try TemplateFixtures.render("{% for x in [1, 2, 3] %}{{ loop.previtem }}-{{ loop.nextitem }}|{% endfor %}") == "-2|1-3|2-|")
        #expect(try TemplateFixtures.render("{% for x in range(3) %}{{ loop.cycle('a', 'b') }}{{ loop.revindex0 }}{% endfor %}") == "a2b1a0")
    }

    @Test func scopingMatchesJinja() throws {
        // `set` inside a loop does not leak; inside `if` it does; namespaces carry state out of loops.
        #expect(try TemplateFixtures.render("{% set x = 1 %}{% for i in [5] %}{% set x = i %}{% endfor %}{{ x }}") == "1")
        #expect(try TemplateFixtures.render("{% if true %}{% set y = 2 %}{% endif %}{{ y }}") == "2")
        #expect(try TemplateFixtures.render("{% set ns = namespace(n=0) %}{% for i in [1, 2, 3] %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}") == "6")
        #expect(TemplateFixtures.error("{% set s = 'x' %}{% set s.attr = 1 %}")?.kind == .type)
    }

    @Test func macrosCallsAndBlocks() throws {
        let source = """
        {% macro tag(name, body='-', sep=':') %}<{{ name }}{{ sep }}{{ body }}>{% endmacro %}\
        {{ tag('a') }}{{ tag('b', 'x') }}{{ tag('c', sep='=') }}\
        {% macro wrap() %}[{{ caller() }}]{% endmacro %}{% call wrap() %}in{% endcall %}\
        {% set captured %}{{ 1 + 1 }} items{% endset %}{{ captured|upper }}\
        {% filter upper %}loud{% endfilter %}{% generation %}gen{% endgeneration %}
        """
        #expect(try TemplateFixtures.render(source) == "<a:-><b:x><c=->[in]2 ITEMSLOUDgen")
    }

    @Test func filters() throws {
        #expect(try TemplateFixtures.render("{{ '  x  '|trim }}|{{ 'hello wORLD'|title }}|{{ 'hELLO'|capitalize }}|{{ 'Ab'|upper }}{{ 'Ab'|lower }}") == "x|Hello World|Hello|ABab")
        #expect(try TemplateFixtures.render("{{ [3, 1, 2]|sort|join(',') }}|{{ ['b', 'A']|sort|first }}|{{ [1, 2, 2]|unique|list }}|{{ [1, 2]|reverse|list }}|{{ [4, 9]|max }}{{ [4, 9]|min }}{{ [4, 9]|sum }}")
            == "1,2,3|A|[1, 2]|[2, 1]|9413")
        #expect(try TemplateFixtures.render("{{ users|selectattr('admin')|map(attribute='name')|list }}|{{ users|sort(attribute='age')|map(attribute='name')|join(' ') }}|{{ users|rejectattr('age', 'gt', 30)|list|length }}", users)
            == "['bob']|al bob|1")
        #expect(try TemplateFixtures.render("{{ x|default('d') }}|{{ ''|default('d', true) }}|{{ none|default('d') }}|{{ '3'|int + 1 }}|{{ '2.5'|float }}|{{ 2.5|round }}|{{ -3|abs }}")
            == "d|d|None|4|2.5|2.0|3")
        #expect(try TemplateFixtures.render("{{ {'b': 1, 'A': 2}|dictsort }}|{{ {'k': 'v'}|items|list }}|{{ 'a b'|replace(' ', '_') }}|{{ 'one two'|wordcount }}|{{ 'ab'|center(6) }}.")
            == "[('A', 2), ('b', 1)]|[('k', 'v')]|a_b|2|  ab  .")
        #expect(try TemplateFixtures.render("{{ 'a\nb\n\nc'|indent(2) }}|{{ 'a\nb'|indent(2, first=true) }}") == "a\n  b\n\n  c|  a\n  b")
        #expect(try TemplateFixtures.render("{{ [1, 2, 3]|batch(2)|list }}|{{ ['x', 'y']|map('upper')|list }}|{{ [1, 2, 3]|select('odd')|list }}")
            == "[[1, 2], [3]]|['X', 'Y']|[1, 3]")
    }

    @Test func tojsonMatchesPythonJsonDumps() throws {
        let context: JSONValue = ["d": ["b": 1, "a": [1.5, nil, true, "é\"\n"], "e": [:]]]
        #expect(try TemplateFixtures.render("{{ d|tojson }}", context) == #"{"b": 1, "a": [1.5, null, true, "é\"\n"], "e": {}}"#)
        #expect(try TemplateFixtures.render("{{ d|tojson(indent=2) }}", context)
            == "{\n  \"b\": 1,\n  \"a\": [\n    1.5,\n    null,\n    true,\n    \"é\\\"\\n\"\n  ],\n  \"e\": {}\n}")
        #expect(try TemplateFixtures.render("{{ d.a|tojson(ensure_ascii=true) }}|{{ d|tojson(sort_keys=true, separators=(',', ':')) }}", context)
            == #"[1.5, null, true, "\u00e9\"\n"]|{"a":[1.5,null,true,"é\"\n"],"b":1,"e":{}}"#)
        #expect(TemplateFixtures.error("{{ missing|tojson }}")?.kind == .undefined)
    }

    @Test func testsAndStringMethods() throws {
        #expect(try TemplateFixtures.render("{{ x is defined }}{{ x is not defined }}{{ none is none }}{{ 1 is integer }}{{ 1.0 is float }}{{ 'a' is string }}{{ {} is mapping }}{{ [] is iterable }}{{ 6 is divisibleby 3 }}{{ 'a' is equalto 'a' }}{{ 3 is odd }}{{ true is boolean }}{{ 'ab' is lower }}")
            == "FalseTrueTrueTrueTrueTrueTrueTrueTrueTrueTrueTrueTrue")
        #expect(try TemplateFixtures.render("{{ ' a b '.split() }}|{{ 'a,b,c'.split(',', 1) }}|{{ 'xxhixx'.strip('x') }}|{{ 'hi'.startswith(('x', 'h')) }}|{{ 'hello'.find('l') }}|{{ 'a-b'.replace('-', '+') }}|{{ ','.join(['a', 'b']) }}|{{ 'they are'.title() }}|{{ '{} {x}'.format(1, x=2) }}")
            == "['a', 'b']|['a', 'b,c']|hi|True|2|a+b|a,b|They Are|1 2")
        #expect(try TemplateFixtures.render("{{ [1, 2, 3, 4][::-1] }}|{{ 'hello'[1:-1] }}|{{ [1, 2, 3][-2:] }}|{{ 'héllo'[1] }}") == "[4, 3, 2, 1]|ell|[2, 3]|é")
        #expect(try TemplateFixtures.render("{{ {'a': 1}.get('a') }}{{ {'a': 1}.get('b', 'z') }}{{ {'a': 1}.get('b') }}|{{ {'a': 1}.keys()|list }}{{ {'a': 1}.values()|list }}") == "1zNone|['a'][1]")
    }

    @Test func contextMustBeAnObject() {
        #expect(throws: TemplateError.self) { try ChatTemplate(source: "x").render(context: [1, 2]) }
    }
}

@Suite("Chat templates: sandbox limits")
struct ChatTemplateSandboxTests {
    /// Each adversarial template must end in a TemplateError(.limit) quickly.
    func expectLimit(_ source: String, _ context: JSONValue = [:], limits: TemplateLimits = TemplateLimits(),
                     sourceLocation: SourceLocation = #_sourceLocation) {
        let start = ContinuousClock.now
        let error = TemplateFixtures.error(source, context, limits: limits)
        let elapsed = ContinuousClock.now - start
        #expect(error?.kind == .limit, "expected a limit error, got \(String(describing: error))", sourceLocation: sourceLocation)
        #expect(elapsed < .seconds(20), "took \(elapsed)", sourceLocation: sourceLocation)
    }

    @Test func deepBlockNesting() {
        expectLimit(String(repeating: "{% if true %}", count: 5000) + "x" + String(repeating: "{% endif %}", count: 5000))
        expectLimit("{{ " + String(repeating: "(", count: 5000) + "1" + String(repeating: ")", count: 5000) + " }}")
        expectLimit("{{ " + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000) + " }}")
        expectLimit("{{ 1" + String(repeating: " + 1", count: 100_000) + " }}")
        expectLimit("{{ " + String(repeating: "not ", count: 100_000) + "x }}")
        expectLimit("{{ x" + String(repeating: "|trim", count: 100_000) + " }}")
    }

    @Test func hugeRanges() {
        expectLimit("{{ range(10**9)|length }}")
        expectLimit("{% for i in range(10**18) %}{% endfor %}")
        expectLimit("{% for i in range(-9223372036854775807, 9223372036854775807) %}{% endfor %}")
    }

    @Test func exponentialGrowth() throws {
        // As in jinja2, `set` inside a loop body is local to the iteration, so this classic
        // example does not actually grow: it renders quickly, like Python's jinja2 ('[a]').
        #expect(try TemplateFixtures.render("{% set s = 'a' %}{% for i in range(100) %}{% set s = s ~ s %}{% endfor %}[{{ s }}]") == "[a]")
        // Growth that does persist: unrolled at top level, through a namespace, or by recursion.
        expectLimit("{% set s = 'a' %}" + String(repeating: "{% set s = s ~ s %}", count: 64))
        expectLimit("{% set ns = namespace(s='a') %}{% for i in range(100) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}")
        expectLimit("{% macro g(s, n) %}{% if n %}{{ g(s ~ s, n - 1) }}{% endif %}{% endmacro %}{{ g('a', 30) }}")
        expectLimit("{% set ns = namespace(s='a') %}{% for i in range(100) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s }}")
        expectLimit("{% set ns = namespace(l=[1]) %}{% for i in range(100) %}{% set ns.l = ns.l + ns.l %}{% endfor %}")
        expectLimit("{{ 'a' * 10**12 }}")
        expectLimit("{{ [1] * 10**12 }}")
        expectLimit("{% set ns = namespace(s='ab') %}{% for i in range(100) %}{% set ns.s = ns.s.replace('a', 'aa') %}{% endfor %}")
    }

    @Test func deepValues() {
        expectLimit("{% set ns = namespace(v=1) %}{% for i in range(100000) %}{% set ns.v = [ns.v] %}{% endfor %}{{ ns.v }}")
        expectLimit("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns }}")
    }

    @Test func recursiveMacros() {
        expectLimit("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}")
        expectLimit("{% macro a(n) %}{{ b(n) }}{% endmacro %}{% macro b(n) %}{{ a(n) }}{% endmacro %}{{ a(1) }}")
        // Wide recursion: bounded by the step limit rather than the depth limit.
        expectLimit("{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(30) }}")
    }

    @Test func hugeOutputAndLongLoops() {
        expectLimit("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}")
        expectLimit("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}")
        var small = TemplateLimits()
        small.maxOutputBytes = 100
        expectLimit("{% for i in range(1000) %}xy{% endfor %}", limits: small)
    }

    @Test func deepJSONContext() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONError.self) { try JSONValue(parsing: deep) }
    }
}

@Suite("Chat templates: micro-benchmark")
struct ChatTemplateBenchmark {
    /// Prints microseconds per render of a 20-turn conversation (no timing assertions).
    @Test func renderTwentyTurns() throws {
        let context = TemplateFixtures.conversation(turns: 20)
        for name in ["HuggingFaceTB-SmolLM2-135M-Instruct.jinja", "Qwen-Qwen2.5-7B-Instruct.jinja"] {
            let template = try ChatTemplate(source: try TemplateFixtures.read("templates/" + name))
            var output = ""
            for _ in 0..<20 { output = try template.render(context: context) }
            let iterations = 500
            let start = ContinuousClock.now
            for _ in 0..<iterations { output = try template.render(context: context) }
            let elapsed = ContinuousClock.now - start
            let micros = Double(elapsed.components.attoseconds) / 1e12 + Double(elapsed.components.seconds) * 1e6
            #expect(output.contains("<|im_start|>assistant\n"))
            print("chat-template benchmark: \(name) 20 turns (41 messages, \(output.utf8.count) bytes): "
                + "\(String(format: "%.1f", micros / Double(iterations))) µs/render")
        }
    }
}
