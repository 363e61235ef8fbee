import Foundation

/// A tiny command-line parser: `--name value`, `--flag`, `-x value`, and `--` to end options.
/// (The package takes no dependencies, so no ArgumentParser.)
struct Arguments {
    private(set) var options: [String: [String]] = [:]
    private(set) var flags: Set<String> = []
    private(set) var positional: [String] = []

    struct UsageError: Error, CustomStringConvertible { let description: String }

    /// `valued`: option names that take a value; every other `--name` is a flag.
    init(_ arguments: [String], valued: Set<String>, flags allowedFlags: Set<String>) throws {
        var i = 0
        var onlyPositional = false
        while i < arguments.count {
            let argument = arguments[i]
            i += 1
            if onlyPositional || !argument.hasPrefix("-") || argument == "-" {
                positional.append(argument)
                continue
            }
            if argument == "--" { onlyPositional = true; continue }
            var name = argument
            var inlineValue: String? = nil
            if let eq = argument.firstIndex(of: "="), argument.hasPrefix("--") {
                name = String(argument[..<eq])
                inlineValue = String(argument[argument.index(after: eq)...])
            }
            if valued.contains(name) {
                let value: String
                if let inlineValue { value = inlineValue } else {
                    guard i < arguments.count else { throw UsageError(description: "option \(name) needs a value") }
                    value = arguments[i]
                    i += 1
                }
                options[name, default: []].append(value)
            } else if allowedFlags.contains(name) {
                flags.insert(name)
            } else {
                throw UsageError(description: "unknown option \(name)")
            }
        }
    }

    func value(_ name: String) -> String? { options[name]?.last }
    func values(_ name: String) -> [String] { options[name] ?? [] }
    func has(_ flag: String) -> Bool { flags.contains(flag) }

    func int(_ name: String, default fallback: Int) throws -> Int {
        guard let text = value(name) else { return fallback }
        guard let number = Int(text) else { throw UsageError(description: "\(name) expects a whole number, got '\(text)'") }
        return number
    }

    func float(_ name: String, default fallback: Float) throws -> Float {
        guard let text = value(name) else { return fallback }
        guard let number = Float(text), number.isFinite else { throw UsageError(description: "\(name) expects a number, got '\(text)'") }
        return number
    }
}
