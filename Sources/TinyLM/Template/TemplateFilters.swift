// Jinja filters (`value | name(args)`), with jinja2 3.1 semantics plus Hugging Face's `tojson`
// (json.dumps with ensure_ascii=False and optional indent).

enum TemplateFilterKind {
    case abs, attr, batch, capitalize, center, length, defaultValue, dictsort, escape, first, float
    case indent, int, items, join, last, list, lower, map, max, min, reject, rejectattr, replace
    case reverse, round, safe, select, selectattr, sort, string, sum, title, tojson, trim, truncate
    case unique, upper, wordcount, striptags, pprint, format

    static func lookup(_ name: String) -> TemplateFilterKind? {
        switch name {
        case "abs": return .abs
        case "attr": return .attr
        case "batch": return .batch
        case "capitalize": return .capitalize
        case "center": return .center
        case "length", "count": return .length
        case "default", "d": return .defaultValue
        case "dictsort": return .dictsort
        case "escape", "e", "forceescape": return .escape
        case "first": return .first
        case "float": return .float
        case "indent": return .indent
        case "int": return .int
        case "items": return .items
        case "join": return .join
        case "last": return .last
        case "list": return .list
        case "lower": return .lower
        case "map": return .map
        case "max": return .max
        case "min": return .min
        case "reject": return .reject
        case "rejectattr": return .rejectattr
        case "replace": return .replace
        case "reverse": return .reverse
        case "round": return .round
        case "safe": return .safe
        case "select": return .select
        case "selectattr": return .selectattr
        case "sort": return .sort
        case "string": return .string
        case "sum": return .sum
        case "title": return .title
        case "tojson": return .tojson
        case "trim": return .trim
        case "truncate": return .truncate
        case "unique": return .unique
        case "upper": return .upper
        case "wordcount": return .wordcount
        case "striptags": return .striptags
        case "pprint": return .pprint
        case "format": return .format
        default: return nil
        }
    }
}

extension TemplateInterpreter {
    func applyFilter(_ call: TemplateFilterCall, to value: TemplateValue, _ scope: TemplateScope) throws(TemplateError) -> TemplateValue {
        let args = try evaluateArguments(call.arguments, scope)
        return try runFilter(call.name, call.kind, value, args)
    }

    func boolArgument(_ args: TemplateCallArguments, _ position: Int, _ name: String, _ defaultValue: Bool) -> Bool {
        guard let v = args.argument(position, name) else { return defaultValue }
        return v.isTruthy
    }

    func intArgument(_ args: TemplateCallArguments, _ position: Int, _ name: String, _ defaultValue: Int) throws(TemplateError) -> Int {
        guard let v = args.argument(position, name) else { return defaultValue }
        if let i = v.integerValue { return i }
        if case let .float(d) = v, d.isFinite, let i = Int(exactly: d.rounded(.towardZero)) { return i }
        throw fail(.type, "expected an integer argument '" + name + "', got " + v.typeName)
    }

    func stringArgument(_ args: TemplateCallArguments, _ position: Int, _ name: String) throws(TemplateError) -> String? {
        guard let v = args.argument(position, name) else { return nil }
        if case .none = v { return nil }
        return try str(v)
    }

    /// jinja2's make_attrgetter: dotted path, integer parts index, item lookup then attribute.
    func attributePath(_ item: TemplateValue, _ path: String) throws(TemplateError) -> TemplateValue {
        var current = item
        for part in pySplit(path, ".", maxSplit: -1) {
            var key = TemplateValue.string(part)
            var isNumber = !part.isEmpty
            var n = 0
            for b in part.utf8 {
                if isDigit(b) { n = n &* 10 &+ Int(b - 48) } else { isNumber = false }
            }
            if isNumber { key = .int(n) }
            current = try getItem(current, key)
        }
        return current
    }

    /// Case-folding key for sort/unique/dictsort/min/max when case_sensitive is false.
    func sortKey(_ v: TemplateValue, caseSensitive: Bool) -> TemplateValue {
        if !caseSensitive, case let .string(s) = v { return .string(pyLower(s)) }
        return v
    }

    func sorted(_ items: [TemplateValue], keys: [TemplateValue], reverse: Bool) throws(TemplateError) -> [TemplateValue] {
        var order = Array(0..<items.count)
        try budget.charge(items.count * 8, line: line)
        if reverse {
            try stableMergeSort(&order) { (a: Int, b: Int) throws(TemplateError) -> Bool in try self.lessThan(keys[b], keys[a]) }
        } else {
            try stableMergeSort(&order) { (a: Int, b: Int) throws(TemplateError) -> Bool in try self.lessThan(keys[a], keys[b]) }
        }
        var out: [TemplateValue] = []
        out.reserveCapacity(items.count)
        for i in order { out.append(items[i]) }
        return out
    }

    func runFilter(_ name: String, _ kind: TemplateFilterKind?, _ value: TemplateValue,
                   _ args: TemplateCallArguments) throws(TemplateError) -> TemplateValue {
        guard let kind else { throw fail(.syntax, "no filter named '" + name + "'") }
        switch kind {
        case .abs:
            switch value {
            case let .int(i):
                if i == Int.min { throw overflow() }
                return .int(i < 0 ? -i : i)
            case let .bool(b): return .int(b ? 1 : 0)
            case let .float(d): return .float(d < 0 ? -d : d)
            case let .undefined(hint): throw undefinedError(hint)
            default: throw fail(.type, "bad operand type for abs(): '" + value.typeName + "'")
            }
        case .attr:
            guard let attrName = try stringArgument(args, 0, "name") else { throw fail(.type, "attr filter requires a name") }
            if case .dict = value {
                switch attrName {
                case "get", "items", "keys", "values", "copy": return try getAttribute(value, attrName)
                default: return .undefined("'dict object' has no attribute '" + attrName + "'")
                }
            }
            return try getAttribute(value, attrName)
        case .batch:
            let size = try intArgument(args, 0, "linecount", 1)
            if size <= 0 { throw fail(.type, "batch size must be positive") }
            let fill = args.argument(1, "fill_with")
            let items = try iterate(value)
            var batches: [TemplateValue] = []
            var i = 0
            while i < items.count {
                var chunk = Array(items[i..<Swift.min(i + size, items.count)])
                if chunk.count < size, let fill, !fill.isNone {
                    while chunk.count < size { chunk.append(fill) }
                }
                batches.append(.list(chunk))
                i += size
            }
            return .list(batches)
        case .capitalize:
            return try checkedString(pyCapitalize(try str(value)))
        case .center:
            let width = try intArgument(args, 0, "width", 80)
            if width > limits.maxStringBytes { throw fail(.limit, "string value exceeds the size limit") }
            return try checkedString(pyPad(try str(value), width: width, fill: " ", mode: 0))
        case .length:
            return .int(try length(value))
        case .defaultValue:
            let fallback = args.argument(0, "default_value") ?? .string("")
            let boolean = boolArgument(args, 1, "boolean", false)
            if value.isUndefined || (boolean && !value.isTruthy) { return fallback }
            return value
        case .dictsort:
            guard case let .dict(d) = value else {
                if case let .undefined(hint) = value { throw undefinedError(hint) }
                throw fail(.type, "dictsort requires a mapping")
            }
            let caseSensitive = boolArgument(args, 0, "case_sensitive", false)
            let by = try stringArgument(args, 1, "by") ?? "key"
            let reverse = boolArgument(args, 2, "reverse", false)
            let byValue: Bool
            if by == "key" { byValue = false } else if by == "value" { byValue = true } else {
                throw fail(.type, "You can only sort by either \"key\" or \"value\"")
            }
            var pairs: [TemplateValue] = []
            var keys: [TemplateValue] = []
            for i in 0..<d.count {
                pairs.append(.tuple([d.keys[i], d.values[i]]))
                keys.append(sortKey(byValue ? d.values[i] : d.keys[i], caseSensitive: caseSensitive))
            }
            return .list(try sorted(pairs, keys: keys, reverse: reverse))
        case .escape:
            let s = try str(value)
            var out: [UInt8] = []
            for b in s.utf8 {
                switch b {
                case UInt8(ascii: "&"): out.append(contentsOf: "&amp;".utf8)
                case UInt8(ascii: "<"): out.append(contentsOf: "&lt;".utf8)
                case UInt8(ascii: ">"): out.append(contentsOf: "&gt;".utf8)
                case UInt8(ascii: "\""): out.append(contentsOf: "&#34;".utf8)
                case UInt8(ascii: "'"): out.append(contentsOf: "&#39;".utf8)
                default: out.append(b)
                }
            }
            return try checkedString(String(decoding: out, as: UTF8.self))
        case .first:
            if case let .string(s) = value {
                if let c = s.unicodeScalars.first { return .string(String(c)) }
                return .undefined("No first item, sequence was empty.")
            }
            let items = try iterate(value)
            return items.first ?? .undefined("No first item, sequence was empty.")
        case .last:
            if case let .string(s) = value {
                if let c = s.unicodeScalars.last { return .string(String(c)) }
                return .undefined("No last item, sequence was empty.")
            }
            if case .generator = value { throw fail(.type, "'generator' object is not reversible") }
            let items = try iterate(value)
            return items.last ?? .undefined("No last item, sequence was empty.")
        case .float:
            let fallback = args.argument(0, "default") ?? .float(0)
            switch value {
            case let .float(d): return .float(d)
            case let .int(i): return .float(Double(i))
            case let .bool(b): return .float(b ? 1 : 0)
            case let .string(s): return parsePythonFloat(s).map { TemplateValue.float($0) } ?? fallback
            default: return fallback
            }
        case .int:
            let fallback = args.argument(0, "default") ?? .int(0)
            let base = try intArgument(args, 1, "base", 10)
            switch value {
            case let .int(i): return .int(i)
            case let .bool(b): return .int(b ? 1 : 0)
            case let .float(d):
                // Int(exactly:): Int is 32-bit on wasm32; a value that does not fit is no int.
                guard d.isFinite, let i = Int(exactly: d.rounded(.towardZero)) else { return fallback }
                return .int(i)
            case let .string(s):
                if let i = parsePythonInt(s, base: base) { return .int(i) }
                if let d = parsePythonFloat(s), d.isFinite, let i = Int(exactly: d.rounded(.towardZero)) { return .int(i) }
                return fallback
            default: return fallback
            }
        case .indent:
            var indentation = "    "
            if let w = args.argument(0, "width") {
                if case let .string(s) = w {
                    indentation = s
                } else {
                    let width = try intArgument(args, 0, "width", 4)
                    if width > limits.maxStringBytes { throw fail(.limit, "string value exceeds the size limit") }
                    indentation = ""
                    if width > 0 { for _ in 0..<width { indentation += " " } }
                }
            }
            let first = boolArgument(args, 1, "first", false)
            let blank = boolArgument(args, 2, "blank", false)
            let lines = pySplitLines(try str(value) + "\n", keepEnds: false)
            var result = ""
            if blank {
                for (i, l) in lines.enumerated() {
                    if i > 0 { result += "\n" + indentation }
                    result += l
                }
            } else {
                result = lines.first ?? ""
                if lines.count > 1 {
                    result += "\n"
                    for i in 1..<lines.count {
                        if i > 1 { result += "\n" }
                        if !lines[i].isEmpty { result += indentation }
                        result += lines[i]
                    }
                }
            }
            if first { result = indentation + result }
            return try checkedString(result)
        case .items:
            switch value {
            case let .dict(d):
                var out: [TemplateValue] = []
                for i in 0..<d.count { out.append(.tuple([d.keys[i], d.values[i]])) }
                return .list(out)
            case .undefined: return .list([])
            default: throw fail(.type, "Can only get item pairs from a mapping.")
            }
        case .join:
            let separator = try stringArgument(args, 0, "d") ?? ""
            let attribute = try stringArgument(args, 1, "attribute")
            var result = ""
            for (i, item) in (try iterate(value)).enumerated() {
                if i > 0 { result += separator }
                result += try str(attribute == nil ? item : try attributePath(item, attribute!))
                try budget.checkString(result.utf8.count, line: line)
            }
            return try checkedString(result)
        case .list:
            if case let .list(items) = value { return .list(items) }
            return .list(try iterate(value))
        case .lower:
            return try checkedString(pyLower(try str(value)))
        case .upper:
            return try checkedString(pyUpper(try str(value)))
        case .map:
            // jinja2 maps only a truthy value: None, undefined, 0 or '' give an empty generator
            // (before the arguments are even looked at).
            if !value.isTruthy { return .generator(TemplateGenerator(function: "sync_do_map", items: [])) }
            let items = try iterate(value)
            var out: [TemplateValue] = []
            out.reserveCapacity(items.count)
            if let attribute = args.keyword("attribute") {
                let path = try str(attribute)
                let fallback = args.keyword("default")
                for item in items {
                    var v = try attributePath(item, path)
                    if v.isUndefined, let fallback { v = fallback }
                    out.append(v)
                }
                return .generator(TemplateGenerator(function: "sync_do_map", items: out))
            }
            guard let filterName = args.positional.first else { throw fail(.type, "map requires a filter name or attribute=") }
            let nameText = try str(filterName)
            var rest = args
            rest.positional.removeFirst()
            let filterKind = TemplateFilterKind.lookup(nameText)
            for item in items { out.append(try runFilter(nameText, filterKind, item, rest)) }
            return .generator(TemplateGenerator(function: "sync_do_map", items: out))
        case .max, .min:
            let caseSensitive = boolArgument(args, 0, "case_sensitive", false)
            let attribute = try stringArgument(args, 1, "attribute")
            let items = try iterate(value)
            if items.isEmpty { return .undefined("No aggregated item, sequence was empty.") }
            var best = items[0]
            var bestKey = sortKey(attribute == nil ? best : try attributePath(best, attribute!), caseSensitive: caseSensitive)
            for item in items.dropFirst() {
                let key = sortKey(attribute == nil ? item : try attributePath(item, attribute!), caseSensitive: caseSensitive)
                let better = kind == .max ? try lessThan(bestKey, key) : try lessThan(key, bestKey)
                if better { best = item; bestKey = key }
            }
            return best
        case .select, .reject, .selectattr, .rejectattr:
            // As jinja2's select_or_reject: a falsy value (None, undefined, 0, '') selects
            // nothing, without checking the arguments.
            if !value.isTruthy { return .generator(TemplateGenerator(function: "select_or_reject", items: [])) }
            let byAttribute = kind == .selectattr || kind == .rejectattr
            let wanted = kind == .select || kind == .selectattr
            var rest = args
            var attribute: String? = nil
            if byAttribute {
                guard !rest.positional.isEmpty else { throw fail(.type, "missing parameter for attribute name") }
                attribute = try str(rest.positional.removeFirst())
            }
            var testName: String? = nil
            if !rest.positional.isEmpty { testName = try str(rest.positional.removeFirst()) }
            let testKind = testName.flatMap { TemplateTestKind.lookup($0) }
            var out: [TemplateValue] = []
            for item in try iterate(value) {
                let subject = attribute == nil ? item : try attributePath(item, attribute!)
                let passed: Bool
                if let testName {
                    passed = try applyTest(testName, testKind, subject, rest)
                } else {
                    passed = subject.isTruthy
                }
                if passed == wanted { out.append(item) }
            }
            return .generator(TemplateGenerator(function: "select_or_reject", items: out))
        case .replace:
            let s = try str(value)
            guard let old = args.argument(0, "old"), let new = args.argument(1, "new") else {
                throw fail(.type, "replace requires 'old' and 'new' arguments")
            }
            var count = -1
            if let c = args.argument(2, "count"), !c.isNone { count = c.integerValue ?? -1 }
            let oldText = try str(old), newText = try str(new)
            // Bound the result size before building it.
            let occurrences = oldText.isEmpty ? codePointCount(s) + 1 : pyCount(s, oldText)
            let effective = count < 0 ? occurrences : Swift.min(count, occurrences)
            let growth = newText.utf8.count - oldText.utf8.count
            if growth > 0 { try budget.checkString(s.utf8.count + effective * growth, line: line) }
            return try checkedString(pyReplace(s, oldText, newText, count: count))
        case .reverse:
            if case let .string(s) = value { return .string(stringFromScalars(s.unicodeScalars.reversed())) }
            return .list(Array(try iterate(value).reversed()))
        case .round:
            let precision = try intArgument(args, 0, "precision", 0)
            let method = try stringArgument(args, 1, "method") ?? "common"
            guard let x = value.numericValue else {
                if case let .undefined(hint) = value { throw undefinedError(hint) }
                throw fail(.type, "round filter requires a number")
            }
            if method != "common" && method != "ceil" && method != "floor" {
                throw fail(.type, "method must be common, ceil or floor")
            }
            if case .int = value, method == "common" { return value }
            var scale = 1.0
            for _ in 0..<Swift.min(Swift.max(precision, 0), 22) { scale *= 10 }
            let scaled = x * scale
            let rounded: Double
            switch method {
            case "ceil": rounded = scaled.rounded(.up)
            case "floor": rounded = scaled.rounded(.down)
            default: rounded = scaled.rounded(.toNearestOrEven)
            }
            return .float(rounded / scale)
        case .safe:
            if case .string = value { return value }
            return .string(try str(value))
        case .sort:
            let reverse = boolArgument(args, 0, "reverse", false)
            let caseSensitive = boolArgument(args, 1, "case_sensitive", false)
            let attribute = try stringArgument(args, 2, "attribute")
            let items = try iterate(value)
            var keys: [TemplateValue] = []
            for item in items {
                keys.append(sortKey(attribute == nil ? item : try attributePath(item, attribute!), caseSensitive: caseSensitive))
            }
            return .list(try sorted(items, keys: keys, reverse: reverse))
        case .string:
            if case .string = value { return value }
            return try checkedString(try str(value))
        case .sum:
            let attribute = try stringArgument(args, 0, "attribute")
            var total = args.argument(1, "start") ?? .int(0)
            for item in try iterate(value) {
                total = try binary(.add, total, attribute == nil ? item : try attributePath(item, attribute!))
            }
            return total
        case .title:
            return try checkedString(jinjaTitle(try str(value)))
        case .tojson:
            return try checkedString(try toJSONText(value, args))
        case .trim:
            let chars = try stringArgument(args, 0, "chars")
            return .string(pyStrip(try str(value), chars, left: true, right: true))
        case .truncate:
            let s = try str(value)
            let lengthLimit = try intArgument(args, 0, "length", 255)
            let killWords = boolArgument(args, 1, "killwords", false)
            let end = try stringArgument(args, 2, "end") ?? "..."
            let leeway = try intArgument(args, 3, "leeway", 5)
            let a = scalars(s)
            let endCount = codePointCount(end)
            if lengthLimit < endCount { throw fail(.type, "expected length >= " + String(endCount) + ", got " + String(lengthLimit)) }
            if a.count <= lengthLimit + leeway { return value.isUndefined ? .string("") : .string(s) }
            let cut = stringFromScalars(a[0..<Swift.max(0, lengthLimit - endCount)])
            if killWords { return .string(cut + end) }
            return .string((pyRSplit(cut, " ", maxSplit: 1).first ?? "") + end)
        case .unique:
            let caseSensitive = boolArgument(args, 0, "case_sensitive", false)
            let attribute = try stringArgument(args, 1, "attribute")
            var seen: [TemplateValue] = []
            var out: [TemplateValue] = []
            for item in try iterate(value) {
                let key = sortKey(attribute == nil ? item : try attributePath(item, attribute!), caseSensitive: caseSensitive)
                var duplicate = false
                for s in seen where try templateEquals(s, key, maxDepth: limits.maxValueDepth) { duplicate = true; break }
                try budget.charge(seen.count, line: line)
                if !duplicate {
                    seen.append(key)
                    out.append(item)
                }
            }
            return .list(out)
        case .wordcount:
            var count = 0
            var inWord = false
            for c in (try str(value)).unicodeScalars {
                let v = c.value
                let isWord = (v >= 0x30 && v <= 0x39) || (v >= 0x41 && v <= 0x5A) || (v >= 0x61 && v <= 0x7A) || v == 0x5F
                    || (v >= 0x80 && !isPythonSpace(c) && isPythonPrintable(v))
                if isWord && !inWord { count += 1 }
                inWord = isWord
            }
            return .int(count)
        case .striptags:
            // Remove <...> tags and collapse whitespace (jinja2's striptags without entity decoding).
            var out = String.UnicodeScalarView()
            var inTag = false
            for c in (try str(value)).unicodeScalars {
                if c == "<" { inTag = true; continue }
                if c == ">" && inTag { inTag = false; continue }
                if !inTag { out.append(c) }
            }
            return .string(pySplit(String(out), nil, maxSplit: -1).joinedWithSpace())
        case .format:
            let values: TemplateValue
            if !args.names.isEmpty {
                var d = TemplateDict()
                for i in 0..<args.names.count { d.set(.string(args.names[i]), args.values[i]) }
                values = .dict(d)
            } else {
                values = .tuple(args.positional)
            }
            return try checkedString(try percentFormat(try str(value), values))
        case .pprint:
            var out = ""
            try value.appendRepr(to: &out, depth: 0, maxDepth: limits.maxValueDepth)
            return try checkedString(out)
        }
    }

    /// `tojson(ensure_ascii=False, indent=None, separators=None, sort_keys=False)` as in the
    /// Hugging Face chat-template environment.
    func toJSONText(_ value: TemplateValue, _ args: TemplateCallArguments) throws(TemplateError) -> String {
        let ensureASCII = boolArgument(args, 0, "ensure_ascii", false)
        var format = JSONFormat.python
        format.escapeNonASCII = ensureASCII
        if let indent = args.argument(1, "indent"), !indent.isNone {
            if case let .string(s) = indent {
                format.indent = s
            } else if let n = indent.integerValue {
                if n > 1024 { throw fail(.limit, "indent too large") }
                var unit = ""
                if n > 0 { for _ in 0..<n { unit += " " } }
                format.indent = unit
            } else {
                throw fail(.type, "indent must be an integer or a string")
            }
            format.itemSeparator = ","
        }
        if let separators = args.argument(2, "separators"), !separators.isNone {
            let parts = try iterate(separators)
            if parts.count != 2 { throw fail(.type, "separators must be a pair of strings") }
            format.itemSeparator = try str(parts[0])
            format.keySeparator = try str(parts[1])
        }
        format.sortKeys = boolArgument(args, 3, "sort_keys", false)
        let json = try value.toJSON(maxDepth: limits.maxValueDepth)
        return json.serialized(format)
    }
}

extension Array where Element == String {
    func joinedWithSpace() -> String {
        var s = ""
        for (i, e) in enumerated() {
            if i > 0 { s += " " }
            s += e
        }
        return s
    }
}

/// Python int(text, base): surrounding whitespace, sign, underscores between digits.
func parsePythonInt(_ text: String, base: Int) -> Int? {
    let trimmed = pyStrip(text, nil, left: true, right: true)
    var bytes = Array(trimmed.utf8)
    if bytes.isEmpty || base < 2 || base > 36 { return nil }
    var negative = false
    if bytes[0] == UInt8(ascii: "-") || bytes[0] == UInt8(ascii: "+") {
        negative = bytes[0] == UInt8(ascii: "-")
        bytes.removeFirst()
    }
    if bytes.isEmpty { return nil }
    var value = 0
    var previousUnderscore = true
    for b in bytes {
        if b == UInt8(ascii: "_") {
            if previousUnderscore { return nil }
            previousUnderscore = true
            continue
        }
        var d = -1
        if isDigit(b) { d = Int(b - 48) } else if (b | 0x20) >= UInt8(ascii: "a") && (b | 0x20) <= UInt8(ascii: "z") { d = Int((b | 0x20) - UInt8(ascii: "a")) + 10 }
        if d < 0 || d >= base { return nil }
        let (m, o1) = value.multipliedReportingOverflow(by: base)
        let (s, o2) = negative ? m.subtractingReportingOverflow(d) : m.addingReportingOverflow(d)
        if o1 || o2 { return nil }
        value = s
        previousUnderscore = false
    }
    if previousUnderscore { return nil }
    return value
}

/// Python float(text): decimal literals, inf/infinity/nan, surrounding whitespace.
func parsePythonFloat(_ text: String) -> Double? {
    let trimmed = pyLower(pyStrip(text, nil, left: true, right: true))
    var bytes = Array(trimmed.utf8)
    if bytes.isEmpty { return nil }
    var negative = false
    if bytes[0] == UInt8(ascii: "-") || bytes[0] == UInt8(ascii: "+") {
        negative = bytes[0] == UInt8(ascii: "-")
        bytes.removeFirst()
    }
    let word = String(decoding: bytes, as: UTF8.self)
    if word == "inf" || word == "infinity" { return negative ? -.infinity : .infinity }
    if word == "nan" { return .nan }
    var digits: [UInt8] = []
    var exponent = 0
    var seenDigit = false
    var seenPoint = false
    var i = 0
    while i < bytes.count {
        let b = bytes[i]
        if isDigit(b) {
            digits.append(b - 48)
            if seenPoint { exponent -= 1 }
            seenDigit = true
        } else if b == UInt8(ascii: "_") && seenDigit && i + 1 < bytes.count && isDigit(bytes[i + 1]) {
        } else if b == UInt8(ascii: ".") && !seenPoint {
            seenPoint = true
        } else {
            break
        }
        i += 1
    }
    if !seenDigit { return nil }
    if i < bytes.count {
        guard bytes[i] == UInt8(ascii: "e") else { return nil }
        i += 1
        var expNegative = false
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+") {
            expNegative = bytes[i] == UInt8(ascii: "-")
            i += 1
        }
        guard i < bytes.count else { return nil }
        var e = 0
        while i < bytes.count {
            guard isDigit(bytes[i]) else { return nil }
            if e < 100_000 { e = e * 10 + Int(bytes[i] - 48) }
            i += 1
        }
        exponent += expNegative ? -e : e
    }
    let v = DecimalConversion.double(digits: digits, exponent: exponent)
    return negative ? -v : v
}
