import FoundationEssentials
import Glibc
import VoiceCore

/// An LLM that streams scripted replies on a manual clock: the first token `ttft` after the
/// call starts, then one token every `perToken`. Tokens are the reply split on white space,
/// each keeping its trailing space.
public final class ScriptedLanguageModel: LanguageModel {
    public var replies: [String]
    public var timeToFirstToken: Duration
    public var perToken: Duration
    /// 1-based call numbers that fail (after `ttft`).
    public var failingCalls: Set<Int>
    /// A misbehaving provider that goes on sending after it is cancelled (to test that late tokens are dropped).
    public var ignoresCancel: Bool
    /// Every request received, in order.
    public private(set) var requests: [LLMRequest] = []
    /// Calls cancelled, in order.
    public private(set) var cancelled: [Int] = []
    private let clock: ManualClock
    private var live: Set<Int> = []

    public init(clock: ManualClock, replies: [String], timeToFirstToken: Duration = .milliseconds(400),
                perToken: Duration = .milliseconds(30), failingCalls: Set<Int> = [], ignoresCancel: Bool = false) {
        self.clock = clock
        self.replies = replies
        self.timeToFirstToken = timeToFirstToken
        self.perToken = perToken
        self.failingCalls = failingCalls
        self.ignoresCancel = ignoresCancel
    }

    /// The reply split into tokens as the script format defines them.
    public static func tokens(of reply: String) -> [String] {
        var tokens: [String] = []
        var current = ""
        var inSpace = false
        for character in reply {
            if character.isWhitespace {
                inSpace = true
                current.append(character)
            } else {
                if inSpace, !current.isEmpty {
                    tokens.append(current)
                    current = ""
                }
                inSpace = false
                current.append(character)
            }
        }
        if !current.isEmpty { tokens.append(current) }
        return tokens
    }

    public func start(_ request: LLMRequest, onEvent: @escaping @Sendable (LLMEvent) -> Void) {
        requests.append(request)
        let number = requests.count
        let call = request.call
        live.insert(call)
        let begin = clock.now + timeToFirstToken
        if failingCalls.contains(number) {
            clock.run(at: begin) { [self] in
                if live.remove(call) != nil || ignoresCancel { onEvent(.failed("scripted failure of call \(number)")) }
            }
            return
        }
        let reply = replies.isEmpty ? "" : replies[min(number, replies.count) - 1]
        let tokens = Self.tokens(of: reply)
        for (index, token) in tokens.enumerated() {
            clock.run(at: begin + perToken * index) { [self] in
                if live.contains(call) || ignoresCancel { onEvent(.token(token)) }
            }
        }
        let end = begin + perToken * max(0, tokens.count - 1)
        clock.run(at: end) { [self] in
            guard live.remove(call) != nil || ignoresCancel else { return }
            onEvent(.usage(promptTokens: request.messages.reduce(0) { $0 + $1.content.count / 4 }, completionTokens: tokens.count))
            onEvent(.finished)
        }
    }

    public func cancel(call: Int) {
        cancelled.append(call)
        live.remove(call)
    }
}

/// A text-to-speech service on a manual clock: `ttfb` after the request, the sentence's audio
/// (`perCharacter` of audio per character) arrives in 100 ms chunks, faster than real time
/// (one chunk every 5 ms), as a streaming service delivers it.
public final class ScriptedTextToSpeech: TextToSpeech {
    public var timeToFirstByte: Duration
    public var perCharacter: Duration
    /// 1-based request numbers that fail (after `ttfb`).
    public var failingRequests: Set<Int>
    public private(set) var requests: [TTSRequest] = []
    public private(set) var cancelled: [Int] = []
    private let clock: ManualClock
    private var live: Set<Int> = []

    public init(clock: ManualClock, timeToFirstByte: Duration = .milliseconds(150),
                perCharacter: Duration = .milliseconds(60), failingRequests: Set<Int> = []) {
        self.clock = clock
        self.timeToFirstByte = timeToFirstByte
        self.perCharacter = perCharacter
        self.failingRequests = failingRequests
    }

    public func start(_ request: TTSRequest, onEvent: @escaping @Sendable (TTSEvent) -> Void) {
        requests.append(request)
        let number = requests.count
        let id = request.id
        live.insert(id)
        let begin = clock.now + timeToFirstByte
        if failingRequests.contains(number) {
            clock.run(at: begin) { [self] in
                if live.remove(id) != nil { onEvent(.failed("scripted failure of TTS request \(number)")) }
            }
            return
        }
        let total = Int((perCharacter * request.text.count).wholeMilliseconds) * PlaybackChunk.sampleRate / 1000
        let chunk = PlaybackChunk.sampleRate / 10
        var offset = 0
        var index = 0
        while offset < total {
            let count = min(chunk, total - offset)
            clock.run(at: begin + .milliseconds(5 * index)) { [self] in
                if live.contains(id) { onEvent(.audio(Self.tone(count: count, offset: offset))) }
            }
            offset += count
            index += 1
        }
        clock.run(at: begin + .milliseconds(5 * max(0, index - 1))) { [self] in
            if live.remove(id) != nil { onEvent(.finished) }
        }
    }

    public func cancel(request: Int) {
        cancelled.append(request)
        live.remove(request)
    }

    /// A quiet 220 Hz tone, so that written audio is audible but distinct from speech.
    static func tone(count: Int, offset: Int) -> [Int16] {
        (0..<count).map { i in
            let phase = Double(offset + i) * 2 * Double.pi * 220 / Double(PlaybackChunk.sampleRate)
            return Int16(2000 * sin(phase))
        }
    }
}

/// Playback in virtual time: chunks play one after another at real-time speed on the manual
/// clock. It records exactly what was played and when, which is the truth about what the
/// speaker said out loud.
public final class VirtualPlayback: AudioPlayback {
    /// A stretch of audio that actually played.
    public struct Played: Equatable, Sendable {
        public var turn: Int
        public var segment: Int
        public var start: VoiceInstant
        public var end: VoiceInstant
        public init(turn: Int, segment: Int, start: VoiceInstant, end: VoiceInstant) {
            self.turn = turn
            self.segment = segment
            self.start = start
            self.end = end
        }
    }

    public private(set) var played: [Played] = []
    public private(set) var drops: [VoiceInstant] = []
    private let clock: ManualClock
    private var handler: (@Sendable (PlaybackEvent) -> Void)?
    private var queue: [PlaybackChunk] = []
    private var current: (chunk: PlaybackChunk, start: VoiceInstant, handle: ManualClock.Handle)?
    private var ended: Set<[Int]> = []
    private var started: Set<[Int]> = []
    private var reported: Set<[Int]> = []

    public init(clock: ManualClock) { self.clock = clock }

    public func setEventHandler(_ handler: @escaping @Sendable (PlaybackEvent) -> Void) { self.handler = handler }

    public func enqueue(_ chunk: PlaybackChunk) {
        queue.append(chunk)
        if current == nil { playNext() }
    }

    public func endSegment(turn: Int, segment: Int) {
        ended.insert([turn, segment])
        reportFinishedIfDone(turn: turn, segment: segment)
    }

    public func drop() {
        let now = clock.now
        if let current {
            clock.cancel(current.handle)
            if now > current.start {
                played.append(Played(turn: current.chunk.turn, segment: current.chunk.segment, start: current.start, end: now))
            }
        }
        current = nil
        queue.removeAll()
        drops.append(now)
    }

    /// The audio that played for `turn`, in order.
    public func played(turn: Int) -> [Played] { played.filter { $0.turn == turn } }

    private func playNext() {
        guard !queue.isEmpty else { return }
        let chunk = queue.removeFirst()
        let start = clock.now
        let key = [chunk.turn, chunk.segment]
        let handle = clock.scheduleCancellable(at: start + chunk.duration) { [weak self] in self?.chunkDone() }
        current = (chunk, start, handle)
        if !started.contains(key) {
            started.insert(key)
            handler?(.segmentStarted(turn: chunk.turn, segment: chunk.segment))
        }
    }

    private func chunkDone() {
        guard let current else { return }
        played.append(Played(turn: current.chunk.turn, segment: current.chunk.segment, start: current.start, end: clock.now))
        self.current = nil
        reportFinishedIfDone(turn: current.chunk.turn, segment: current.chunk.segment)
        playNext()
    }

    private func reportFinishedIfDone(turn: Int, segment: Int) {
        let key = [turn, segment]
        guard ended.contains(key), started.contains(key), !reported.contains(key) else { return }
        let pending = queue.contains { $0.turn == turn && $0.segment == segment }
            || (current.map { $0.chunk.turn == turn && $0.chunk.segment == segment } ?? false)
        guard !pending else { return }
        reported.insert(key)
        handler?(.segmentFinished(turn: turn, segment: segment))
    }
}

/// Remembers what the LEDs were asked to show.
public final class RecordingIndicator: Indicator {
    public private(set) var shown: [IndicatorState] = []
    public init() {}
    public func show(_ state: IndicatorState) { shown.append(state) }
}
