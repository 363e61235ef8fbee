/// The few Unicode character classes the pre-tokenizers need, as bit flags (llama.cpp's
/// `unicode_cpt_flags`, reduced): letter = \p{L}, number = \p{N}, whitespace = \s (the
/// Unicode White_Space property, which takes precedence over the category), punctuation =
/// \p{P}, mark = \p{M}, symbol = \p{S}. `present` marks a real code point, so a position past
/// the end of a fragment has flags 0 (llama.cpp's `as_uint() == 0`). For every code point the
/// classes equal llama.cpp's (its Unicode 15.1 data; checked once over all of them).
struct ScalarClass {
    static let letter: UInt8 = 1
    static let number: UInt8 = 2
    static let whitespace: UInt8 = 4
    static let punctuation: UInt8 = 8
    static let mark: UInt8 = 16
    static let symbol: UInt8 = 32
    static let present: UInt8 = 0x80

    @inline(__always)
    static func of(_ cp: UInt32) -> UInt8 {
        if cp < 128 { return ascii(UInt8(cp)) }
        guard let scalar = Unicode.Scalar(cp) else { return present }
        let props = scalar.properties
        // llama.cpp's tables are Unicode 15.1: what later versions assign is unassigned there.
        guard let age = props.age, age.major < 15 || (age.major == 15 && age.minor <= 1) else { return present }
        if props.isWhitespace { return present | whitespace }
        switch props.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return present | letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return present | number
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return present | punctuation
        case .nonspacingMark, .spacingMark, .enclosingMark:
            return present | mark
        case .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol:
            return present | symbol
        default:
            return present
        }
    }

    @inline(__always)
    static func ascii(_ c: UInt8) -> UInt8 {
        switch c {
        case 0x41...0x5A, 0x61...0x7A: return present | letter
        case 0x30...0x39: return present | number
        case 0x09...0x0D, 0x20: return present | whitespace
        // \p{P} in ASCII: ! " # % & ' ( ) * , - . / : ; ? @ [ \ ] _ { }
        case 0x21...0x23, 0x25...0x2A, 0x2C...0x2F, 0x3A, 0x3B, 0x3F, 0x40, 0x5B...0x5D, 0x5F, 0x7B, 0x7D:
            return present | punctuation
        // \p{S} in ASCII: $ + < = > ^ ` | ~
        case 0x24, 0x2B, 0x3C...0x3E, 0x5E, 0x60, 0x7C, 0x7E:
            return present | symbol
        default: return present
        }
    }

    /// ASCII lower-casing (what the case-insensitive contraction rules need).
    @inline(__always)
    static func lowerASCII(_ cp: UInt32) -> UInt32 {
        (cp >= 0x41 && cp <= 0x5A) ? cp + 32 : cp
    }
}
