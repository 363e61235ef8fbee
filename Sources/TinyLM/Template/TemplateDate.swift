// Calendar date-time supplied by the caller for `strftime_now(format)` (the engine has no clock).

/// A local date and time (proleptic Gregorian calendar), as `strftime_now` should see it.
public struct TemplateDateTime: Equatable, Sendable {
    public var year: Int
    public var month: Int
    public var day: Int
    public var hour: Int
    public var minute: Int
    public var second: Int

    public init(year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0) {
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
    }

    static let monthNames = ["January", "February", "March", "April", "May", "June", "July",
                             "August", "September", "October", "November", "December"]
    static let dayNames = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

    /// Days since 1970-01-01 (Howard Hinnant's days_from_civil).
    var daysSinceEpoch: Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    /// 0 = Monday ... 6 = Sunday.
    var weekdayFromMonday: Int {
        let d = (daysSinceEpoch + 3) % 7  // 1970-01-01 was a Thursday (index 3)
        return d < 0 ? d + 7 : d
    }

    var isLeapYear: Bool { (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 }

    /// 1-based day of the year.
    var dayOfYear: Int {
        let cumulative = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334]
        let m = min(max(month, 1), 12)
        return cumulative[m - 1] + day + (m > 2 && isLeapYear ? 1 : 0)
    }

    /// C/Python `strftime` in the C locale, including glibc's `-` (no padding) and `_` flags.
    public func strftime(_ format: String) -> String {
        var out = ""
        let f = Array(format.unicodeScalars)
        var i = 0
        while i < f.count {
            let c = f[i]
            if c != "%" || i + 1 >= f.count {
                out.unicodeScalars.append(c)
                i += 1
                continue
            }
            i += 1
            var pad: Unicode.Scalar? = nil  // nil = default
            var noPad = false
            if f[i] == "-" || f[i] == "_" || f[i] == "0" {
                if f[i] == "-" { noPad = true } else { pad = f[i] == "_" ? " " : "0" }
                i += 1
                if i >= f.count { out += "%"; break }
            }
            let d = f[i]
            i += 1
            func num(_ v: Int, _ width: Int, _ defaultPad: Unicode.Scalar = "0") -> String {
                var s = String(v < 0 ? -v : v)
                if !noPad {
                    let p = pad ?? defaultPad
                    while s.unicodeScalars.count < width { s.unicodeScalars.insert(p, at: s.unicodeScalars.startIndex) }
                }
                return v < 0 ? "-" + s : s
            }
            let monthIndex = min(max(month, 1), 12) - 1
            let hour12 = hour % 12 == 0 ? 12 : hour % 12
            switch d {
            case "Y": out += String(year)
            case "y": out += num(((year % 100) + 100) % 100, 2)
            case "C": out += num(year / 100, 2)
            case "m": out += num(month, 2)
            case "d": out += num(day, 2)
            case "e": out += num(day, 2, " ")
            case "H": out += num(hour, 2)
            case "I": out += num(hour12, 2)
            case "M": out += num(minute, 2)
            case "S": out += num(second, 2)
            case "j": out += num(dayOfYear, 3)
            case "p": out += hour < 12 ? "AM" : "PM"
            case "B": out += TemplateDateTime.monthNames[monthIndex]
            case "b", "h": out += String(TemplateDateTime.monthNames[monthIndex].unicodeScalars.prefix(3))
            case "A": out += TemplateDateTime.dayNames[weekdayFromMonday]
            case "a": out += String(TemplateDateTime.dayNames[weekdayFromMonday].unicodeScalars.prefix(3))
            case "u": out += String(weekdayFromMonday + 1)
            case "w": out += String((weekdayFromMonday + 1) % 7)
            case "U": out += num((dayOfYear + 6 - (weekdayFromMonday + 1) % 7) / 7, 2)
            case "W": out += num((dayOfYear + 6 - weekdayFromMonday) / 7, 2)
            case "D": out += strftime("%m/%d/%y")
            case "F": out += strftime("%Y-%m-%d")
            case "T": out += strftime("%H:%M:%S")
            case "R": out += strftime("%H:%M")
            case "r": out += strftime("%I:%M:%S %p")
            case "c": out += strftime("%a %b %e %H:%M:%S %Y")
            case "x": out += strftime("%m/%d/%y")
            case "X": out += strftime("%H:%M:%S")
            case "n": out += "\n"
            case "t": out += "\t"
            case "Z", "z": break
            case "%": out += "%"
            default:
                out += "%"
                out.unicodeScalars.append(d)
            }
        }
        return out
    }
}
