import Foundation
import Logging
import Synchronization
import Testing
@testable import VoiceCore
import VoiceFakeCloud
import VoiceProviders

/// Collects events from any thread and lets a test wait (bounded) for a condition on them.
final class Recorder<Event: Sendable>: Sendable {
    private let state = Mutex<[(event: Event, at: ContinuousClock.Instant)]>([])

    func append(_ event: Event) { state.withLock { $0.append((event, .now)) } }

    var events: [Event] { state.withLock { $0.map(\.event) } }
    var timed: [(event: Event, at: ContinuousClock.Instant)] { state.withLock { $0 } }

    /// Waits until `condition` holds or `timeout` passes; returns whether it holds.
    @discardableResult
    func wait(timeout: Duration = .seconds(10), until condition: ([Event]) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition(events) { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return condition(events)
    }
}

/// Waits (bounded) for a condition on anything.
@discardableResult
func eventually(timeout: Duration = .seconds(10), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return condition()
}

extension LLMEvent {
    var isTerminal: Bool {
        switch self {
        case .finished, .failed: true
        default: false
        }
    }
    var token: String? { if case .token(let text) = self { text } else { nil } }
    var failure: String? { if case .failed(let message) = self { message } else { nil } }
}

extension TTSEvent {
    var isTerminal: Bool {
        switch self {
        case .finished, .failed: true
        default: false
        }
    }
    var samples: [Int16] { if case .audio(let pcm) = self { pcm } else { [] } }
    var failure: String? { if case .failed(let message) = self { message } else { nil } }
}

/// Starts a fake cloud on a free loopback port for one test.
func startCloud(_ script: FakeCloudScript, logger: Logger = Logger(label: "test.fakecloud")) async throws -> FakeCloud {
    let cloud = FakeCloud(script: script, logger: logger)
    try await cloud.start()
    return cloud
}

/// A script with no delays and the given faults.
func instantScript(faults: [FakeCloudScript.Fault] = [], replies: [String] = ["Hello there. How can I help?"]) -> FakeCloudScript {
    var script = FakeCloudScript.instant
    script.llm.replies = replies
    script.faults = faults
    return script
}

func fault(_ service: FakeCloudScript.Service, _ kind: FakeCloudScript.Fault.Kind, requests: [Int]? = [1],
           configure: (inout FakeCloudScript.Fault) -> Void = { _ in }) -> FakeCloudScript.Fault {
    var fault = FakeCloudScript.Fault(service: service, requests: requests, kind: kind)
    configure(&fault)
    return fault
}

/// A request of one user message.
func chatRequest(call: Int = 1, _ text: String = "Hi") -> LLMRequest {
    LLMRequest(turn: 1, call: call, messages: [ChatMessage(role: .system, content: "Be brief."), ChatMessage(role: .user, content: text)])
}

func speechRequest(id: Int = 1, _ text: String = "Hello there.") -> TTSRequest {
    TTSRequest(id: id, turn: 1, segment: 0, text: text, voice: .primary, call: 1)
}

/// A log handler that keeps every line (message, metadata, source) for inspection.
struct CapturingLogHandler: LogHandler {
    let lines: Recorder<String>
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let all = metadata.merging(event.metadata ?? [:]) { $1 }
        let fields = all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        lines.append("\(event.level) \(event.source) \(event.message) \(fields) \(event.error.map { "\($0)" } ?? "")")
    }
}
