import Testing
import TinyLM

/// jinja2's select, reject, selectattr, rejectattr and map return Python generators, and return
/// an empty one for a falsy input (None, undefined, 0, ''). Chat templates see the difference:
/// `tools|selectattr(...)|list` is [] when tools is None, while `…|length` raises.
/// Every expectation below is what jinja2 3.1.6 renders (ImmutableSandboxedEnvironment), checked
/// with `python3 -c "from jinja2.sandbox import ImmutableSandboxedEnvironment as E; print(repr(E().from_string(SRC).render(xs=..., n=None)))"`;
/// nil means jinja2 raises.
@Suite("Chat templates: filters on None and generators as in jinja2")
struct TemplateGeneratorTests {
    static let context: JSONValue = ["xs": [["a": 1], ["a": 0], ["b": 2]], "n": .null]

    static let cases: [(source: String, jinja2: String?)] = [
        // A falsy input gives an empty generator, without looking at the arguments.
        ("{{ none|selectattr('a')|list }}", "[]"),
        ("{{ none|rejectattr('a')|list }}", "[]"),
        ("{{ none|select|list }}", "[]"),
        ("{{ none|reject('none')|list }}", "[]"),
        ("{{ none|map(attribute='a')|list }}", "[]"),
        ("{{ none|map('upper')|list }}", "[]"),
        ("{{ none|selectattr|list }}", "[]"),
        ("{{ 0|select|list }}", "[]"),
        ("{{ ''|map('upper')|list }}", "[]"),
        ("{{ false|selectattr('x')|list }}", "[]"),
        ("{{ missing|selectattr('a')|list }}", "[]"),
        ("{{ n|selectattr('role', 'equalto', 'user')|list|length }}", "0"),
        ("{{ n|map(attribute='x')|join(', ') }}", ""),
        ("{% for t in n|selectattr('type') %}{{ t }}{% else %}empty{% endfor %}", "empty"),
        // A truthy non-iterable still fails.
        ("{{ 5|select|list }}", nil),
        ("{{ true|rejectattr('a')|list }}", nil),
        // Generators have no len(), are always true, pass once, and are not JSON.
        ("{{ none|selectattr('a')|length }}", nil),
        ("{{ xs|selectattr('a')|length }}", nil),
        ("{{ xs|selectattr('a')|count }}", nil),
        ("{{ xs|selectattr('a')|list|length }}", "1"),
        ("{% if none|selectattr('a') %}yes{% else %}no{% endif %}", "yes"),
        ("{% if xs|selectattr('zz') %}yes{% else %}no{% endif %}", "yes"),
        ("{% set g = xs|selectattr('a') %}{% for x in g %}{{ x.a }}{% endfor %}|{% for x in g %}{{ x.a }}{% endfor %}", "1|"),
        ("{% set g = xs|map(attribute='a') %}{{ 1 in g }}{{ 1 in g }}", "TrueFalse"),
        ("{{ xs|selectattr('a')|tojson }}", nil),
        ("{{ xs|selectattr('a')|first }}", "{'a': 1}"),
        ("{{ xs|selectattr('a')|last }}", nil),
        ("{{ xs|selectattr('a')|reverse|list }}", "[{'a': 1}]"),
        ("{{ (xs|selectattr('a'))[0] }}", ""),
        ("{{ xs|selectattr('a') is iterable }}{{ xs|selectattr('a') is sequence }}", "TrueFalse"),
        ("{{ [1] + (xs|map(attribute='a')) }}", nil),
        ("{{ xs|map(attribute='a', default=9)|join(',') }}", "1,0,9"),
        // Undefined inside a container prints as its repr.
        ("{{ xs|map(attribute='a')|list }}", "[1, 0, Undefined]"),
        ("{{ [missing, 1] }}", "[Undefined, 1]"),
        // Other filters on None fail, as in jinja2.
        ("{{ none|list }}", nil),
        ("{{ none|length }}", nil),
        ("{{ none|join(',') }}", nil),
        ("{{ none|first }}", nil),
        ("{{ none|items|list }}", nil),
        ("{{ none|sort }}", nil),
    ]

    @Test("each case renders what jinja2 renders, or fails where it fails")
    func matchesJinja2() throws {
        for (source, expected) in Self.cases {
            let template = try ChatTemplate(source: source)
            do {
                let output = try template.render(context: Self.context)
                #expect(output == expected, "\(source): rendered \(output.debugDescription), jinja2: \(expected.map { $0.debugDescription } ?? "raises")")
            } catch {
                #expect(expected == nil, "\(source): \(error.description), jinja2 renders \(expected?.debugDescription ?? "")")
            }
        }
    }
}
