/// The tokens a chat has given the model — every prompt, and every reply *as generated* — with
/// the text they spell, so that each turn's prompt continues them instead of re-tokenizing
/// the whole conversation.
///
/// Why: re-rendering the conversation and tokenizing it again does not give back the tokens
/// in the KV cache. The model's reply was sampled token by token, often not as the tokenizer
/// would split that text (e.g. SmolLM2 writes " Paris" and "." where the tokenizer may merge
/// them differently), and the end-of-turn token was sampled but never evaluated. From the
/// first differing token on, `Session.prefill` would evaluate the whole rest again — every
/// earlier reply, each turn: time to first token would grow with the conversation.
///
/// So: `extend(to:)` takes the template's rendering of the whole conversation, keeps the
/// longest run of transcript tokens whose text the rendering starts with (normally all of
/// them: the template renders the reply exactly as generated, then its end-of-turn text, which
/// is the text of the end-of-turn token the model produced), and tokenizes only the rest (the
/// new user message and the template's glue). Where the rendering differs (an edited
/// message, a template that trims replies, a stop string that cut the text), it falls back to
/// the tokens before the difference. `append(generated:)` records the reply.
public struct ChatTranscript: Sendable {
    /// What the model has been given, in order (the session's cache holds these, except possibly
    /// the last reply's end-of-turn token, which `Session.prefill` evaluates with the next prompt).
    public private(set) var tokens: [Int32] = []
    /// The text the tokens spell (special tokens as their text, e.g. "<|im_end|>").
    private var text: [UInt8] = []
    /// Where each token's text ends in `text`; nil once a token's text could not be placed
    /// (then only a rendering that starts with the whole text keeps the tokens).
    private var tokenEnds: [Int]? = []

    public init() {}

    /// Forgets everything (a new conversation).
    public mutating func reset() { self = ChatTranscript() }

    /// The text the tokens spell, as bytes (what a session snapshot stores to rebuild it).
    public var textBytes: [UInt8] { text }

    /// A transcript rebuilt from its tokens and text (a restored session snapshot): the tokens
    /// are placed in the text again as `extend` placed them.
    public init(tokens: [Int32], text: [UInt8], tokenizer: Tokenizer) {
        place(tokens, after: 0, in: text, tokenizer: tokenizer)
        self.text = text
    }

    /// Makes the transcript hold the prompt `rendered` (the chat template's output for the whole
    /// conversation, ending with the generation prompt) and returns its tokens: a prefix of the
    /// transcript's tokens, then the tokens of the text after it.
    public mutating func extend(to rendered: String, formatter: ChatFormatter) -> [Int32] {
        let new = Array(rendered.utf8)
        var common = 0
        let limit = min(text.count, new.count)
        while common < limit && text[common] == new[common] { common += 1 }
        // Tokens kept: all of them when the rendering continues the whole text; otherwise those
        // that end before the first difference.
        var kept = 0
        var keptBytes = 0
        if common == text.count {
            kept = tokens.count
            keptBytes = text.count
        } else if let ends = tokenEnds {
            while kept < ends.count && ends[kept] <= common { kept += 1 }
            keptBytes = kept > 0 ? ends[kept - 1] : 0
        }
        if kept == 0 {
            self = ChatTranscript()
            let fresh = formatter.tokens(forPrompt: rendered)
            place(fresh, after: 0, in: new, tokenizer: formatter.tokenizer)
            text = new
            return tokens
        }
        tokens.removeLast(tokens.count - kept)
        if let count = tokenEnds?.count { tokenEnds!.removeLast(count - kept) }
        let rest = String(decoding: new[keptBytes...], as: UTF8.self)
        let fresh = formatter.tokenizer.encode(rest, addSpecial: false, parseSpecial: true)
        place(fresh, after: keptBytes, in: new, tokenizer: formatter.tokenizer)
        text = new
        return tokens
    }

    /// Records a reply: the tokens the model generated after the last prompt (with its
    /// end-of-turn token, if it produced one).
    public mutating func append(generated reply: [Int32], tokenizer: Tokenizer) {
        var all = text
        for id in reply { all.append(contentsOf: tokenizer.pieceBytes(id)) }
        place(reply, after: text.count, in: all, tokenizer: tokenizer)
        text = all
    }

    /// Appends `ids`, whose text should follow byte `start` of `text`, recording where each
    /// ends. A token added by the tokenizer (BOS) takes no text; a token whose text is not
    /// there makes the positions unknown from then on.
    private mutating func place(_ ids: [Int32], after start: Int, in text: [UInt8], tokenizer: Tokenizer) {
        var position = start
        for id in ids {
            tokens.append(id)
            guard tokenEnds != nil else { continue }
            let piece = tokenizer.pieceBytes(id)
            if position + piece.count <= text.count, text[position..<(position + piece.count)].elementsEqual(piece) {
                position += piece.count
                tokenEnds!.append(position)
            } else if id == tokenizer.bosTokenID, tokens.count == 1 {
                tokenEnds!.append(position)
            } else {
                tokenEnds = nil
            }
        }
    }
}
