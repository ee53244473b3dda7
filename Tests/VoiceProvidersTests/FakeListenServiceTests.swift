import Foundation
import HTTPTypes
import HummingbirdWSClient
import Logging
import NIOCore
import Synchronization
import Testing
import VoiceEspeak
import VoiceFakeCloud

/// The fake Deepgram live service, tested from the outside with a real WebSocket client:
/// the messages a Deepgram client will parse, in Deepgram's shapes, and every fault.
@Suite struct FakeListenServiceTests {
    static let query = "model=nova-3&language=en-US&encoding=linear16&sample_rate=16000&channels=1"
        + "&interim_results=true&punctuate=true&endpointing=300&utterance_end_ms=1000&vad_events=true"

    /// A value shared with the connection's tasks.
    final class Box<Value>: @unchecked Sendable {
        // @unchecked: every access goes through `lock`.
        private let lock = Mutex(())
        private var value: Value
        init(_ value: Value) { self.value = value }
        func withLock<R>(_ body: (inout Value) -> R) -> R { lock.withLock { _ in body(&value) } }
    }

    /// What a connection saw.
    struct Session {
        var messages: [String] = []
        var binaryMessages = 0
        var largest = 0
        var close: WebSocketCloseFrame?
        var error: (any Error)?

        /// The text messages that parse, as dictionaries.
        var json: [[String: Any]] {
            messages.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }
        func ofType(_ type: String) -> [[String: Any]] { json.filter { $0["type"] as? String == type } }
        var finals: [[String: Any]] { ofType("Results").filter { $0["is_final"] as? Bool == true } }
        var interims: [[String: Any]] { ofType("Results").filter { $0["is_final"] as? Bool == false } }
    }

    /// Speech, then silence: what a microphone would send for one utterance.
    static func utterance(_ text: String, silenceMs: Int = 1500) async throws -> [Int16] {
        try await EspeakEngine.shared.synthesizeAll(text) + Array(repeating: 0, count: silenceMs * 16)
    }

    /// Connects, sends `audio` in 20 ms frames (`paceMs` apart), then `controls`, and collects
    /// everything until the server closes or `timeout` passes.
    func listen(_ cloud: FakeCloud, query: String = query, key: String? = "dg-test-key", audio: [Int16], paceMs: Int = 0,
                controls: [(afterMs: Int, message: String)] = [(0, #"{"type":"CloseStream"}"#)],
                timeout: Duration = .seconds(8)) async -> Session {
        var headers = HTTPFields()
        if let key { headers[.authorization] = "Token \(key)" }
        let session = Box(Session())
        do {
            let close = try await WebSocketClient.connect(
                url: "\(cloud.listenURL)?\(query)",
                configuration: .init(maxFrameSize: 1 << 16, additionalHeaders: headers, closeTimeout: .seconds(2)),
                logger: Logger(label: "test.ws")
            ) { inbound, outbound, _ in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for try await message in inbound.messages(maxSize: 4 << 20) {
                            switch message {
                            case .text(let text):
                                session.withLock {
                                    $0.messages.append(text)
                                    $0.largest = max($0.largest, text.utf8.count)
                                }
                            case .binary:
                                session.withLock { $0.binaryMessages += 1 }
                            }
                        }
                    }
                    group.addTask {
                        for start in stride(from: 0, to: audio.count, by: 320) {
                            var buffer = ByteBuffer()
                            for sample in audio[start..<min(start + 320, audio.count)] { buffer.writeInteger(sample, endianness: .little) }
                            try await outbound.write(.binary(buffer))
                            if paceMs > 0 { try await Task.sleep(for: .milliseconds(paceMs)) }
                        }
                        for control in controls {
                            try await Task.sleep(for: .milliseconds(control.afterMs))
                            try await outbound.write(.text(control.message))
                        }
                        try await Task.sleep(for: timeout)
                        throw CancellationError()
                    }
                    _ = try await group.next()
                    group.cancelAll()
                }
            }
            session.withLock { $0.close = close }
        } catch {
            session.withLock { $0.error = error }
        }
        return session.withLock { $0 }
    }

    func script(utterances: [String] = ["What's the weather like today?", "And tomorrow?"],
                faults: [FakeCloudScript.Fault] = [], configure: (inout FakeCloudScript) -> Void = { _ in }) -> FakeCloudScript {
        var script = FakeCloudScript.instant
        script.stt.utterances = utterances
        script.faults = faults
        configure(&script)
        return script
    }

    @Test func hearsTwoUtterancesAndAnswersInDeepgramShapes() async throws {
        let cloud = try await startCloud(script())
        defer { Task { await cloud.stop() } }
        let audio = try await Self.utterance("hello there how are you") + Self.utterance("and tomorrow")
        let session = await listen(cloud, audio: audio)
        #expect(session.error == nil)

        #expect(session.ofType("SpeechStarted").count == 2)
        let finals = session.finals
        #expect(finals.count == 2)
        let transcripts = finals.compactMap { (($0["channel"] as? [String: Any])?["alternatives"] as? [[String: Any]])?.first?["transcript"] as? String }
        #expect(transcripts == ["What's the weather like today?", "And tomorrow?"])
        #expect(finals.allSatisfy { $0["speech_final"] as? Bool == true && $0["from_finalize"] as? Bool == false })
        let first = try #require(finals.first)
        #expect((first["start"] as? Double ?? -1) >= 0 && (first["duration"] as? Double ?? 0) > 0.5)
        let alternative = try #require(((first["channel"] as? [String: Any])?["alternatives"] as? [[String: Any]])?.first)
        #expect(alternative["confidence"] as? Double == 0.98)
        #expect((alternative["words"] as? [[String: Any]])?.count == 5)
        #expect(first["channel_index"] as? [Int] == [0, 1])
        #expect((first["metadata"] as? [String: Any])?["request_id"] is String)

        // Interims grow towards the transcript and never show all of it before the final.
        let interim = try #require(session.interims.first)
        let partial = try #require(((interim["channel"] as? [String: Any])?["alternatives"] as? [[String: Any]])?.first?["transcript"] as? String)
        #expect("What's the weather like today?".hasPrefix(partial) && partial != "What's the weather like today?")

        #expect(session.ofType("UtteranceEnd").count == 2)
        let metadata = try #require(session.ofType("Metadata").first)
        #expect(metadata["request_id"] is String && metadata["channels"] as? Int == 1)
        #expect((metadata["duration"] as? Double ?? 0) > 3)
        #expect(session.messages.last.map { $0.contains("\"Metadata\"") } == true, "Metadata comes last")
        #expect(session.close?.closeCode == .normalClosure)

        let record = try #require(cloud.records(.stt).first)
        #expect(record.query["endpointing"] == "300" && record.query["encoding"] == "linear16")
        #expect(record.headers["authorization"] == "Token dg-test-key")
        #expect(record.audioBytes == audio.count * 2)
        #expect(record.controlMessages == ["CloseStream"])
        #expect(record.outcome == .completed)
    }

    @Test func utterancesAreCountedAcrossConnections() async throws {
        let cloud = try await startCloud(script())
        defer { Task { await cloud.stop() } }
        let audio = try await Self.utterance("hello")
        _ = await listen(cloud, audio: audio)
        let second = await listen(cloud, audio: audio)
        let transcript = (((second.finals.first?["channel"] as? [String: Any])?["alternatives"] as? [[String: Any]])?.first?["transcript"] as? String)
        #expect(transcript == "And tomorrow?")
    }

    @Test func optionsShapeTheMessages() async throws {
        let cloud = try await startCloud(script())
        defer { Task { await cloud.stop() } }
        let query = "encoding=linear16&sample_rate=16000&punctuate=false&endpointing=300"
        let session = await listen(cloud, query: query, audio: try await Self.utterance("hello there"))
        #expect(session.ofType("SpeechStarted").isEmpty, "no vad_events: no SpeechStarted")
        #expect(session.interims.isEmpty, "no interim_results: no interims")
        #expect(session.ofType("UtteranceEnd").isEmpty, "no utterance_end_ms: no UtteranceEnd")
        let transcript = (((session.finals.first?["channel"] as? [String: Any])?["alternatives"] as? [[String: Any]])?.first?["transcript"] as? String)
        #expect(transcript == "what's the weather like today")
    }

    @Test func finalizeFlushesTheUtteranceInProgress() async throws {
        let cloud = try await startCloud(script())
        defer { Task { await cloud.stop() } }
        let speech = try await EspeakEngine.shared.synthesizeAll("hello there how are you")
        let session = await listen(cloud, audio: speech, controls: [(0, #"{"type":"Finalize"}"#), (100, #"{"type":"CloseStream"}"#)])
        let final = try #require(session.finals.first)
        #expect(final["from_finalize"] as? Bool == true)
        #expect(session.finals.count == 1)
        #expect(cloud.records(.stt).first?.controlMessages == ["Finalize", "CloseStream"])
    }

    @Test func keepAliveHoldsAnIdleConnectionOpen() async throws {
        let cloud = try await startCloud(script { $0.stt.idleTimeoutMs = 1500 })
        defer { Task { await cloud.stop() } }
        let keepAlive = #"{"type":"KeepAlive"}"#
        // 2 s in all, longer than the idle timeout, with a KeepAlive every 200 ms.
        let session = await listen(cloud, audio: [], controls: Array(repeating: (200, keepAlive), count: 10) + [(0, #"{"type":"CloseStream"}"#)])
        #expect(session.close?.closeCode == .normalClosure)
        #expect(session.ofType("Metadata").count == 1)
    }

    @Test func silenceWithoutKeepAliveIsClosedWith1011() async throws {
        let cloud = try await startCloud(script { $0.stt.idleTimeoutMs = 300 })
        defer { Task { await cloud.stop() } }
        let session = await listen(cloud, audio: [], controls: [], timeout: .seconds(3))
        #expect(session.close?.closeCode == .unexpectedServerError)
        #expect(session.close?.reason?.contains("NET-0001") == true || session.close?.reason?.contains("net0001") == true)
    }

    @Test func wrongKeyIsRefusedWith401() async throws {
        let cloud = try await startCloud(script { $0.keys.deepgram = "dg-right" })
        defer { Task { await cloud.stop() } }
        let session = await listen(cloud, key: "dg-wrong", audio: [])
        #expect(session.error != nil)
        #expect(cloud.records(.stt).first?.status == 401)
        let missing = await listen(cloud, key: nil, audio: [])
        #expect(missing.error != nil)
        #expect(cloud.records(.stt).last?.status == 401)
    }

    @Test func scriptedStatusRefusesTheUpgrade() async throws {
        let cloud = try await startCloud(script(faults: [fault(.stt, .status) { $0.status = 429 }]))
        defer { Task { await cloud.stop() } }
        let refused = await listen(cloud, audio: [])
        #expect(refused.error != nil)
        #expect(cloud.records(.stt).first?.status == 429)
        let next = await listen(cloud, audio: [])
        #expect(next.error == nil && next.ofType("Metadata").count == 1, "only connection 1 is refused")
    }

    @Test func closeMidStreamDropsTheConnection() async throws {
        let cloud = try await startCloud(script(faults: [fault(.stt, .closeMidStream) { $0.after = 1 }]))
        defer { Task { await cloud.stop() } }
        let session = await listen(cloud, audio: try await Self.utterance("hello there how are you"))
        #expect(session.messages.count == 1)
        #expect(session.close?.closeCode != .normalClosure)
        #expect(cloud.records(.stt).first?.outcome == .faulted)
    }

    @Test func closeMidStreamCanSendACloseCode() async throws {
        let cloud = try await startCloud(script(faults: [fault(.stt, .closeMidStream) {
            $0.after = 1
            $0.closeCode = 1011
        }]))
        defer { Task { await cloud.stop() } }
        let session = await listen(cloud, audio: try await Self.utterance("hello there"))
        #expect(session.close?.closeCode == .unexpectedServerError)
    }

    @Test func invalidJSONOversizedAndBinaryMessages() async throws {
        let cloud = try await startCloud(script(faults: [
            fault(.stt, .invalidJSON, requests: [1]) { $0.after = 1 },
            fault(.stt, .oversized, requests: [2]) { $0.after = 1 },
            fault(.stt, .wrongContentType, requests: [3]) { $0.after = 1 },
        ]))
        defer { Task { await cloud.stop() } }
        let audio = try await Self.utterance("hello there how are you")
        let invalid = await listen(cloud, audio: audio)
        #expect(invalid.messages.count == invalid.json.count + 1, "exactly one message is not JSON")
        #expect(invalid.ofType("Metadata").count == 1, "the connection goes on")
        let oversized = await listen(cloud, audio: audio)
        #expect(oversized.largest > 1 << 20)
        #expect(oversized.ofType("Metadata").count == 1)
        let binary = await listen(cloud, audio: audio)
        #expect(binary.binaryMessages == 1)
        #expect(binary.ofType("Metadata").count == 1)
    }

    @Test func slowTrickleDelaysEveryMessage() async throws {
        let cloud = try await startCloud(script(faults: [fault(.stt, .slowTrickle) { $0.intervalMs = 100 }]))
        defer { Task { await cloud.stop() } }
        let started = ContinuousClock.now
        let session = await listen(cloud, audio: try await Self.utterance("hello there"))
        #expect(session.finals.count == 1 && session.ofType("Metadata").count == 1)
        #expect(ContinuousClock.now - started >= .milliseconds(100 * session.messages.count), "each message waited")
    }

    @Test func stallHoldsBackMessages() async throws {
        let cloud = try await startCloud(script(faults: [fault(.stt, .stall) {
            $0.after = 1
            $0.stallMs = 60_000
        }]))
        defer { Task { await cloud.stop() } }
        let session = await listen(cloud, audio: try await Self.utterance("hello there how are you"), timeout: .seconds(2))
        #expect(session.messages.count == 1)
        #expect(cloud.records(.stt).first?.sent == 1)
    }
}
