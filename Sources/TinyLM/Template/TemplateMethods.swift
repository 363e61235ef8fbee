// Python methods callable from templates on str, dict, list/tuple and the loop object.
// Mutating list/dict methods are refused (jinja2's ImmutableSandboxedEnvironment).

extension TemplateInterpreter {
    static let stringMethodNames: Set<String> = [
        "strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "startswith", "endswith",
        "replace", "upper", "lower", "title", "capitalize", "swapcase", "casefold", "find", "rfind",
        "index", "rindex", "count", "join", "format", "isdigit", "isdecimal", "isnumeric", "isalpha",
        "isalnum", "isspace", "islower", "isupper", "istitle", "zfill", "center", "ljust", "rjust",
        "partition", "rpartition", "removeprefix", "removesuffix",
    ]

    /// Calls `receiver.name(args)` if it is a supported method; nil if the receiver has no such method.
    func callMethod(_ receiver: TemplateValue, _ name: String, _ args: TemplateCallArguments) throws(TemplateError) -> TemplateValue? {
        switch receiver {
        case let .string(s):
            if !TemplateInterpreter.stringMethodNames.contains(name) { return nil }
            return try stringMethod(s, name, args)
        case let .dict(d):
            switch name {
            case "get":
                guard let key = args.argument(0, "key") else { throw fail(.type, "get expected at least 1 argument, got 0") }
                try checkHashable(key)
                return d.get(key) ?? (args.argument(1, "default") ?? TemplateValue.none)
            case "items":
                var out: [TemplateValue] = []
                out.reserveCapacity(d.count)
                for i in 0..<d.count { out.append(.tuple([d.keys[i], d.values[i]])) }
                return .list(out)
            case "keys": return .list(d.keys)
            case "values": return .list(d.values)
            case "copy": return receiver
            case "pop", "popitem", "setdefault", "update", "clear":
                throw fail(.security, TemplateInterpreter.unsafeHint(name, "dict"))
            default: return nil
            }
        case let .list(items), let .tuple(items):
            switch name {
            case "count":
                guard let x = args.positional.first else { throw fail(.type, "count() takes exactly one argument") }
                var n = 0
                for item in items where try templateEquals(item, x, maxDepth: limits.maxValueDepth) { n += 1 }
                return .int(n)
            case "index":
                guard let x = args.positional.first else { throw fail(.type, "index expected at least 1 argument") }
                for (i, item) in items.enumerated() where try templateEquals(item, x, maxDepth: limits.maxValueDepth) { return .int(i) }
                throw fail(.type, "value is not in list")
            case "append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear":
                throw fail(.security, TemplateInterpreter.unsafeHint(name, receiver.typeName))
            default: return nil
            }
        case let .loop(loop):
            switch name {
            case "cycle":
                if args.positional.isEmpty { throw fail(.type, "no items for cycling given") }
                return args.positional[loop.index0 % args.positional.count]
            case "changed":
                if let last = loop.lastChanged, last.count == args.positional.count {
                    var same = true
                    for i in 0..<last.count where !(try templateEquals(last[i], args.positional[i], maxDepth: limits.maxValueDepth)) {
                        same = false
                        break
                    }
                    if same { return .bool(false) }
                }
                loop.lastChanged = args.positional
                return .bool(true)
            default: return nil
            }
        default:
            return nil
        }
    }

    func stringMethod(_ s: String, _ name: String, _ args: TemplateCallArguments) throws(TemplateError) -> TemplateValue {
        func optionalString(_ position: Int, _ keyword: String) throws(TemplateError) -> String? {
            guard let v = args.argument(position, keyword) else { return nil }
            switch v {
            case .none: return nil
            case let .string(x): return x
            case let .undefined(hint): throw undefinedError(hint)
            default: throw fail(.type, name + "() argument must be str or None, not " + v.typeName)
            }
        }
        func requiredString(_ position: Int, _ keyword: String) throws(TemplateError) -> String {
            guard let v = args.argument(position, keyword) else { throw fail(.type, name + "() missing required argument '" + keyword + "'") }
            if case let .string(x) = v { return x }
            if case let .undefined(hint) = v { throw undefinedError(hint) }
            throw fail(.type, "must be str, not " + v.typeName)
        }
        func listOfStrings(_ parts: [String]) throws(TemplateError) -> TemplateValue {
            try budget.charge(parts.count + s.utf8.count, line: line)
            var out: [TemplateValue] = []
            out.reserveCapacity(parts.count)
            for p in parts { out.append(.string(p)) }
            return .list(out)
        }
        switch name {
        case "strip": return .string(pyStrip(s, try optionalString(0, "chars"), left: true, right: true))
        case "lstrip": return .string(pyStrip(s, try optionalString(0, "chars"), left: true, right: false))
        case "rstrip": return .string(pyStrip(s, try optionalString(0, "chars"), left: false, right: true))
        case "split", "rsplit":
            let sep = try optionalString(0, "sep")
            if let sep, sep.isEmpty { throw fail(.type, "empty separator") }
            let maxSplit = try intArgument(args, 1, "maxsplit", -1)
            return try listOfStrings(name == "split" ? pySplit(s, sep, maxSplit: maxSplit) : pyRSplit(s, sep, maxSplit: maxSplit))
        case "splitlines":
            return try listOfStrings(pySplitLines(s, keepEnds: boolArgument(args, 0, "keepends", false)))
        case "startswith", "endswith":
            guard let affix = args.argument(0, name == "startswith" ? "prefix" : "suffix") else {
                throw fail(.type, name + "() takes at least 1 argument (0 given)")
            }
            var subject = s
            if args.positional.count > 1 {
                let a = scalars(s)
                var startIndex = try intArgument(args, 1, "start", 0)
                var endIndex = try intArgument(args, 2, "end", a.count)
                if startIndex < 0 { startIndex = Swift.max(0, startIndex + a.count) }
                if endIndex < 0 { endIndex = Swift.max(0, endIndex + a.count) }
                startIndex = Swift.min(startIndex, a.count)
                endIndex = Swift.min(endIndex, a.count)
                subject = startIndex < endIndex ? stringFromScalars(a[startIndex..<endIndex]) : ""
            }
            var candidates: [TemplateValue] = []
            switch affix {
            case .string: candidates = [affix]
            case let .tuple(items): candidates = items
            default: throw fail(.type, name + " first arg must be str or a tuple of str, not " + affix.typeName)
            }
            for c in candidates {
                guard case let .string(text) = c else { throw fail(.type, "tuple for " + name + " must only contain str, not " + c.typeName) }
                if name == "startswith" ? utf8HasPrefix(subject, text) : utf8HasSuffix(subject, text) { return .bool(true) }
            }
            return .bool(false)
        case "replace":
            let old = try requiredString(0, "old")
            let new = try requiredString(1, "new")
            let count = try intArgument(args, 2, "count", -1)
            let occurrences = old.isEmpty ? codePointCount(s) + 1 : pyCount(s, old)
            let effective = count < 0 ? occurrences : Swift.min(count, occurrences)
            let growth = new.utf8.count - old.utf8.count
            if growth > 0 { try budget.checkString(s.utf8.count + effective * growth, line: line) }
            return try checkedString(pyReplace(s, old, new, count: count))
        case "upper": return .string(pyUpper(s))
        case "lower", "casefold": return .string(pyLower(s))
        case "title": return .string(pyTitle(s))
        case "capitalize": return .string(pyCapitalize(s))
        case "swapcase":
            var view = String.UnicodeScalarView()
            for c in s.unicodeScalars { view.append(isUpperScalar(c) ? lowerScalar(c) : upperScalar(c)) }
            return .string(String(view))
        case "find", "rfind", "index", "rindex":
            let sub = try requiredString(0, "sub")
            let reverse = name == "rfind" || name == "rindex"
            let position = pyFind(s, sub, reverse: reverse)
            if position < 0 && (name == "index" || name == "rindex") { throw fail(.type, "substring not found") }
            return .int(position)
        case "count":
            return .int(pyCount(s, try requiredString(0, "sub")))
        case "join":
            guard let iterable = args.positional.first else { throw fail(.type, "join() takes exactly one argument") }
            var result = ""
            for (i, item) in (try iterate(iterable)).enumerated() {
                guard case let .string(text) = item else {
                    throw fail(.type, "sequence item " + String(i) + ": expected str instance, " + item.typeName + " found")
                }
                if i > 0 { result += s }
                result += text
                try budget.checkString(result.utf8.count, line: line)
            }
            return try checkedString(result)
        case "format":
            return try checkedString(try pyFormat(s, args))
        case "isdigit", "isdecimal", "isnumeric":
            if s.isEmpty { return .bool(false) }
            for b in s.utf8 where !isDigit(b) { return .bool(false) }
            return .bool(true)
        case "isalpha", "isalnum":
            if s.isEmpty { return .bool(false) }
            for c in s.unicodeScalars {
                let v = c.value
                let letter = (v >= 0x41 && v <= 0x5A) || (v >= 0x61 && v <= 0x7A) || (v >= 0x80 && isCasedScalar(c))
                    || (v >= 0x80 && !isPythonSpace(c) && isPythonPrintable(v) && v >= 0x3040)
                let digit = v >= 0x30 && v <= 0x39
                if !(letter || (name == "isalnum" && digit)) { return .bool(false) }
            }
            return .bool(true)
        case "isspace":
            if s.isEmpty { return .bool(false) }
            for c in s.unicodeScalars where !isPythonSpace(c) { return .bool(false) }
            return .bool(true)
        case "islower", "isupper":
            var cased = false
            for c in s.unicodeScalars {
                if name == "islower" {
                    if isUpperScalar(c) { return .bool(false) }
                    if isLowerScalar(c) { cased = true }
                } else {
                    if isLowerScalar(c) { return .bool(false) }
                    if isUpperScalar(c) { cased = true }
                }
            }
            return .bool(cased)
        case "istitle":
            return .bool(!s.isEmpty && pyTitle(s).utf8.elementsEqual(s.utf8) && s.unicodeScalars.contains(where: isCasedScalar))
        case "zfill":
            let width = try intArgument(args, 0, "width", 0)
            if width > limits.maxStringBytes { throw fail(.limit, "string value exceeds the size limit") }
            let a = scalars(s)
            if width <= a.count { return .string(s) }
            var view = String.UnicodeScalarView()
            var rest = a[...]
            if let first = a.first, first == "-" || first == "+" {
                view.append(first)
                rest = a.dropFirst()
            }
            for _ in 0..<(width - a.count) { view.append("0") }
            view.append(contentsOf: rest)
            return .string(String(view))
        case "center", "ljust", "rjust":
            let width = try intArgument(args, 0, "width", 0)
            if width > limits.maxStringBytes { throw fail(.limit, "string value exceeds the size limit") }
            var fill: Unicode.Scalar = " "
            if let f = try optionalString(1, "fillchar") {
                let fs = scalars(f)
                if fs.count != 1 { throw fail(.type, "The fill character must be exactly one character long") }
                fill = fs[0]
            }
            return try checkedString(pyPad(s, width: width, fill: fill, mode: name == "center" ? 0 : name == "ljust" ? 1 : 2))
        case "partition", "rpartition":
            let sep = try requiredString(0, "sep")
            if sep.isEmpty { throw fail(.type, "empty separator") }
            let parts = name == "partition" ? pySplit(s, sep, maxSplit: 1) : pyRSplit(s, sep, maxSplit: 1)
            if parts.count == 2 { return .tuple([.string(parts[0]), .string(sep), .string(parts[1])]) }
            return name == "partition" ? .tuple([.string(s), .string(""), .string("")]) : .tuple([.string(""), .string(""), .string(s)])
        case "removeprefix":
            let p = try requiredString(0, "prefix")
            if !p.isEmpty && utf8HasPrefix(s, p) { return .string(String(decoding: Array(s.utf8)[p.utf8.count...], as: UTF8.self)) }
            return .string(s)
        case "removesuffix":
            let p = try requiredString(0, "suffix")
            if !p.isEmpty && utf8HasSuffix(s, p) {
                let bytes = Array(s.utf8)
                return .string(String(decoding: bytes[0..<(bytes.count - p.utf8.count)], as: UTF8.self))
            }
            return .string(s)
        default:
            throw fail(.type, "'str' object has no method '" + name + "'")
        }
    }

    /// str.format with `{}`, `{0}`, `{name}`, `{name.attr}`/`{0[key]}`-free fields and `{{`/`}}`.
    /// Format specs (`{:>10}`) are not supported.
    func pyFormat(_ format: String, _ args: TemplateCallArguments) throws(TemplateError) -> String {
        let a = scalars(format)
        var out = ""
        var i = 0
        var autoIndex = 0
        while i < a.count {
            let c = a[i]
            if c == "{" {
                if i + 1 < a.count && a[i + 1] == "{" { out += "{"; i += 2; continue }
                var j = i + 1
                while j < a.count && a[j] != "}" { j += 1 }
                if j >= a.count { throw fail(.type, "Single '{' encountered in format string") }
                let field = stringFromScalars(a[(i + 1)..<j])
                if utf8Contains(field, ":") || utf8Contains(field, "!") || utf8Contains(field, ".") || utf8Contains(field, "[") {
                    throw fail(.type, "format specifications are not supported in str.format")
                }
                let value: TemplateValue
                if field.isEmpty {
                    guard autoIndex < args.positional.count else { throw fail(.type, "Replacement index " + String(autoIndex) + " out of range") }
                    value = args.positional[autoIndex]
                    autoIndex += 1
                } else if let n = parsePythonInt(field, base: 10) {
                    guard n >= 0 && n < args.positional.count else { throw fail(.type, "Replacement index " + field + " out of range") }
                    value = args.positional[n]
                } else {
                    guard let v = args.keyword(field) else { throw fail(.type, "KeyError: '" + field + "'") }
                    value = v
                }
                out += try str(value)
                try budget.checkString(out.utf8.count, line: line)
                i = j + 1
            } else if c == "}" {
                if i + 1 < a.count && a[i + 1] == "}" { out += "}"; i += 2; continue }
                throw fail(.type, "Single '}' encountered in format string")
            } else {
                out.unicodeScalars.append(c)
                i += 1
            }
        }
        return out
    }
}
