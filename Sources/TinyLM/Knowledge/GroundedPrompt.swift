/// How retrieved passages reach a chat model: one layout, used by `tinylm chat --knowledge`
/// and by the web API (`lm.chat(messages, {knowledge})`, through the wasm ABI), and then
/// rendered by the model's own chat template like any conversation.
///
/// The last user message is replaced by
///
///     Answer the question using the sources below. Cite the sources you use by number,
///     like [1]. If the sources do not contain the answer, say that you do not know.
///
///     [1] <title> › <heading> (<url>)
///     <passage text>
///
///     [2] …
///
///     Question: <the user's message>
///
/// Earlier messages (the system prompt, earlier turns) are kept as they are. The passages go
/// in the user turn rather than the system prompt because every template has a user turn
/// (Gemma's has no system role) and small models attend most to the text next to the
/// question. With no passages the conversation is left unchanged.
public enum GroundedPrompt {
    public struct Passage: Sendable, Equatable {
        public var title: String
        public var url: String
        public var heading: String
        public var text: String
        public var score: Float

        public init(title: String, url: String, heading: String, text: String, score: Float = 0) {
            self.title = title
            self.url = url
            self.heading = heading
            self.text = text
            self.score = score
        }
    }

    public static let instruction = "Answer the question using the sources below. Cite the sources you use by number, like [1]. If the sources do not contain the answer, say that you do not know."

    public static func passages(_ hits: [KnowledgeHit], in base: KnowledgeBase) -> [Passage] {
        hits.map { hit in
            let chunk = base.chunks[hit.chunk]
            let document = base.documents[chunk.document]
            return Passage(title: document.title, url: document.url, heading: chunk.heading, text: chunk.text, score: hit.score)
        }
    }

    /// The user turn for `question` with `passages`.
    public static func userMessage(question: String, passages: [Passage]) -> String {
        var text = instruction + "\n\n"
        for (i, p) in passages.enumerated() {
            var source = p.heading.isEmpty ? p.title : (p.title.isEmpty ? p.heading : p.title + " › " + p.heading)
            if !p.url.isEmpty { source += source.isEmpty ? p.url : " (" + p.url + ")" }
            text += "[\(i + 1)] " + source + "\n" + p.text + "\n\n"
        }
        return text + "Question: " + question
    }

    /// `messages` with the last user message grounded in `passages`.
    public static func messages(_ messages: [ChatMessage], passages: [Passage]) -> [ChatMessage] {
        guard !passages.isEmpty, let last = messages.lastIndex(where: { $0.role == "user" }) else { return messages }
        var result = messages
        result[last].content = userMessage(question: messages[last].content, passages: passages)
        return result
    }

    /// The question to search for: the last user message.
    public static func question(in messages: [ChatMessage]) -> String? {
        messages.last { $0.role == "user" }?.content
    }
}
