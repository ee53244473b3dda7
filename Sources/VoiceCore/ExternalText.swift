/// Text that comes from outside (a transcript, an LLM's reply) is cleaned once, where it enters:
/// control characters and invisible direction overrides never reach the voice, the database or
/// a terminal.
public enum ExternalText {
    /// `text` without C0/C1 control characters (tab and newline become a space), DEL, and the
    /// Unicode bidirectional controls (``Escaping/isControl(_:)``).
    public static func clean(_ text: String) -> String { Escaping.escaped(text, as: .clean) }
}
