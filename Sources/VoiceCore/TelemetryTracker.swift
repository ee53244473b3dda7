/// A point-in-time summary of a session's turn-taking, for status displays and the store.
public struct TelemetrySnapshot: Equatable, Sendable, Codable {
    public var sessionID: String
    /// Speculative calls cancelled by new speech or a correction.
    public var cancellations: Int
    /// Turns that ended with their answer spoken (completed or interrupted after speaking started).
    public var completedTurns: Int
    /// cancellations / (cancellations + completed turns), 0 with neither.
    public var cancellationRate: Double
    /// Mean speech end → first audio over the session, in milliseconds (nil before the first).
    public var averageTurnLatencyMs: Double?
    /// LLM tokens received by calls that were then cancelled.
    public var tokensWasted: Int
    /// Mean debounce in force at each completed turn, in milliseconds (nil before the first).
    public var averageDebounceMs: Double?
    /// The same figures over the last ``TelemetryTracker/rollingWindow`` turns.
    public var rolling: Rolling

    public struct Rolling: Equatable, Sendable, Codable {
        public var cancellationRate: Double
        public var averageTurnLatencyMs: Double?
        public var averageDebounceMs: Double?
    }
}

/// Per-session counters of turn-taking: cancellations, completions, latency, wasted tokens,
/// debounce; with rolling averages over the last 10 outcomes.
public struct TelemetryTracker: Equatable, Sendable {
    /// How many recent outcomes the rolling figures cover.
    public static let rollingWindow = 10

    public let sessionID: String
    public private(set) var cancellations = 0
    public private(set) var completedTurns = 0
    public private(set) var tokensWasted = 0
    private var latencySumMs: Double = 0
    private var latencyCount = 0
    private var debounceSumMs: Double = 0
    private var debounceCount = 0
    private var recent: [Outcome] = []

    private enum Outcome: Equatable, Sendable {
        case canceled
        case completed(latencyMs: Double?, debounceMs: Double)
    }

    public init(sessionID: String) { self.sessionID = sessionID }

    /// Records a cancelled speculative call and the tokens it had received.
    public mutating func recordCancellation(tokensWasted tokens: Int) {
        cancellations += 1
        tokensWasted += max(0, tokens)
        push(.canceled)
    }

    /// Adds tokens of a cancelled call without counting a cancelled speculation: an `at_final`
    /// call restarted by a later final, a call cut short by a barge-in, shutdown or going offline.
    public mutating func recordWastedTokens(_ tokens: Int) { tokensWasted += max(0, tokens) }

    /// Records a turn whose answer was spoken, with its speech end → first audio latency
    /// (nil when unknown) and the debounce that was in force.
    public mutating func recordCompletedTurn(latency: Duration?, debounce: Duration) {
        completedTurns += 1
        let latencyMs = latency.map { Double($0.wholeMilliseconds) }
        if let latencyMs {
            latencySumMs += latencyMs
            latencyCount += 1
        }
        let debounceMs = Double(debounce.wholeMilliseconds)
        debounceSumMs += debounceMs
        debounceCount += 1
        push(.completed(latencyMs: latencyMs, debounceMs: debounceMs))
    }

    /// The cancellation rate over the whole session.
    public var cancellationRate: Double {
        let total = cancellations + completedTurns
        return total == 0 ? 0 : Double(cancellations) / Double(total)
    }

    /// The figures as a `Codable` value.
    public var snapshot: TelemetrySnapshot {
        let recentCancels = recent.filter { $0 == .canceled }.count
        var latencies: [Double] = []
        var debounces: [Double] = []
        for case let .completed(latency, debounce) in recent {
            if let latency { latencies.append(latency) }
            debounces.append(debounce)
        }
        return TelemetrySnapshot(
            sessionID: sessionID,
            cancellations: cancellations,
            completedTurns: completedTurns,
            cancellationRate: cancellationRate,
            averageTurnLatencyMs: latencyCount == 0 ? nil : latencySumMs / Double(latencyCount),
            tokensWasted: tokensWasted,
            averageDebounceMs: debounceCount == 0 ? nil : debounceSumMs / Double(debounceCount),
            rolling: .init(
                cancellationRate: recent.isEmpty ? 0 : Double(recentCancels) / Double(recent.count),
                averageTurnLatencyMs: Self.mean(latencies),
                averageDebounceMs: Self.mean(debounces)
            )
        )
    }

    private mutating func push(_ outcome: Outcome) {
        recent.append(outcome)
        if recent.count > Self.rollingWindow { recent.removeFirst(recent.count - Self.rollingWindow) }
    }

    private static func mean(_ values: [Double]) -> Double? {
        values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
    }
}
