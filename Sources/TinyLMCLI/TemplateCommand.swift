import Foundation
import TinyLM

/// `tinylm template --template FILE --context JSONFILE [--now YYYY-MM-DDTHH:MM:SS]`
///
/// Renders a chat template with a JSON context object (messages, tools, add_generation_prompt,
/// bos_token, eos_token, ...) and writes exactly the rendered text to stdout (no newline added).
/// `strftime_now` sees the local time, or `--now` when given. Errors go to stderr with a
/// non-zero exit status (2 for usage errors, 1 for template/JSON/file errors).
func runTemplateCommand(_ arguments: [String]) -> Int32 {
    func fail(_ message: String, status: Int32 = 1) -> Int32 {
        FileHandle.standardError.write(Data(("error: " + message + "\n").utf8))
        return status
    }
    let usage = "usage: tinylm template --template FILE --context JSONFILE [--now YYYY-MM-DDTHH:MM:SS]"
    var templatePath: String? = nil
    var contextPath: String? = nil
    var nowText: String? = nil
    var i = 0
    while i < arguments.count {
        var name = arguments[i]
        var value: String? = nil
        if name.hasPrefix("--"), let eq = name.firstIndex(of: "=") {
            value = String(name[name.index(after: eq)...])
            name = String(name[..<eq])
        }
        i += 1
        guard ["--template", "--context", "--now"].contains(name) else {
            return fail("unknown option '" + name + "'\n" + usage, status: 2)
        }
        if value == nil {
            guard i < arguments.count else { return fail("option " + name + " needs a value\n" + usage, status: 2) }
            value = arguments[i]
            i += 1
        }
        switch name {
        case "--template": templatePath = value
        case "--context": contextPath = value
        default: nowText = value
        }
    }
    guard let templatePath, let contextPath else { return fail("--template and --context are required\n" + usage, status: 2) }

    var now: TemplateDateTime
    if let nowText {
        guard let parsed = parseDateTime(nowText) else {
            return fail("--now expects YYYY-MM-DDTHH:MM:SS, got '" + nowText + "'", status: 2)
        }
        now = parsed
    } else {
        let c = Calendar.current.dateComponents([.year, .month, .day, .hour, .minute, .second], from: Date())
        now = TemplateDateTime(year: c.year ?? 1970, month: c.month ?? 1, day: c.day ?? 1,
                               hour: c.hour ?? 0, minute: c.minute ?? 0, second: c.second ?? 0)
    }

    guard let templateData = FileManager.default.contents(atPath: templatePath) else {
        return fail("cannot read template file '" + templatePath + "'")
    }
    let contextData: Data?
    if contextPath == "-" {
        contextData = FileHandle.standardInput.readDataToEndOfFile()
    } else {
        contextData = FileManager.default.contents(atPath: contextPath)
    }
    guard let contextData else { return fail("cannot read context file '" + contextPath + "'") }
    guard let source = String(data: templateData, encoding: .utf8) else {
        return fail("template file '" + templatePath + "' is not valid UTF-8")
    }

    let context: JSONValue
    do {
        context = try JSONValue(parsing: [UInt8](contextData))
    } catch {
        return fail("context JSON: " + error.description)
    }
    do {
        let template = try ChatTemplate(source: source)
        let text = try template.render(context: context, options: TemplateRenderOptions(now: now))
        FileHandle.standardOutput.write(Data(text.utf8))
        return 0
    } catch {
        return fail("template: " + error.description)
    }
}

/// "YYYY-MM-DDTHH:MM:SS" (or with a space instead of T; seconds optional).
private func parseDateTime(_ text: String) -> TemplateDateTime? {
    let parts = text.split(whereSeparator: { $0 == "-" || $0 == "T" || $0 == " " || $0 == ":" }).map(String.init)
    guard parts.count == 5 || parts.count == 6 else { return nil }
    let numbers = parts.compactMap { Int($0) }
    guard numbers.count == parts.count else { return nil }
    let date = TemplateDateTime(year: numbers[0], month: numbers[1], day: numbers[2], hour: numbers[3],
                                minute: numbers[4], second: parts.count == 6 ? numbers[5] : 0)
    // Years as ChatRequest accepts them (the weekday arithmetic overflows for absurd ones).
    guard (1...9999).contains(date.year), (1...12).contains(date.month), (1...31).contains(date.day), (0...23).contains(date.hour),
          (0...59).contains(date.minute), (0...60).contains(date.second) else { return nil }
    return date
}
