// voiced-bench: figures for the hot paths of voiced, printed as plain text.
//
//     swift run -c release voiced-bench            every benchmark
//     swift run -c release voiced-bench ring       only the named ones (see `--list`)
//
// To add a benchmark, write a function that prints its figures (use `measure` and `report`)
// and add it to `benchmarks` at the bottom of this file.
import Foundation
import Logging
import Synchronization
import VoiceCore
import VoiceLinux
import VoiceProviders
import VoiceTesting

// MARK: Timing

/// Runs `body` once to warm up, then `runs` times; returns the fastest and the median run.
/// `body` returns a value that depends on its work, so the optimiser cannot drop it.
func measure(runs: Int = 5, _ body: () -> Int) -> (best: Duration, median: Duration) {
    var sink = body()
    let clock = ContinuousClock()
    var times: [Duration] = []
    for _ in 0..<runs {
        let start = clock.now
        sink &+= body()
        times.append(clock.now - start)
    }
    blackHole(sink)
    times.sort()
    return (times[0], times[times.count / 2])
}

@inline(never) func blackHole(_ value: Int) {
    if value == .min { print("") }
}

/// Prints one figure: name, value and unit, aligned.
func report(_ name: String, _ value: Double, _ unit: String, _ note: String = "") {
    let number = value >= 100 ? String(format: "%.0f", value) : String(format: "%.2f", value)
    let padded = name.padding(toLength: 48, withPad: " ", startingAt: 0)
    print("  \(padded) \(number.leftPadded(to: 12)) \(unit)\(note.isEmpty ? "" : "   (\(note))")")
}

/// Prints the median, the 99th percentile and the worst of `samples`, in µs, as `what, median` ….
func reportLatencies(_ what: String, _ samples: [Duration]) {
    guard !samples.isEmpty else { return }
    let sorted = samples.sorted()
    func microseconds(_ d: Duration) -> Double { d.seconds * 1_000_000 }
    report("\(what), median", microseconds(sorted[sorted.count / 2]), "µs")
    report("\(what), 99th percentile", microseconds(sorted[sorted.count * 99 / 100]), "µs")
    report("\(what), worst", microseconds(sorted[sorted.count - 1]), "µs")
}

extension String {
    func leftPadded(to width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}

// MARK: Ring buffer

/// 16 kHz mono, 20 ms frames: what ALSA capture hands the ring.
let sampleRate = 16_000.0
let frame = 320

func ringBenchmarks() {
    print("ring: AudioRingBuffer, 16 kHz mono, 320-sample (20 ms) frames, capacity 160,000")

    // One thread alternating write 320 / read 320: the cost of the ring itself.
    let frames = 1_000_000
    let ring = AudioRingBuffer()
    let input = (0..<frame).map { Int16(truncatingIfNeeded: $0) }
    var output = [Int16](repeating: 0, count: frame)
    let single = input.withUnsafeBufferPointer { input in
        output.withUnsafeMutableBufferPointer { output in
            measure {
                var total = 0
                for _ in 0..<frames {
                    ring.write(input)
                    total &+= ring.read(into: output)
                }
                return total &+ Int(output[frame - 1])
            }
        }
    }
    let audioSeconds = Double(frames * frame) / sampleRate
    report("single thread, write+read 320", audioSeconds / single.median.seconds, "× real time",
           "best \(Int(audioSeconds / single.best.seconds))×")
    report("single thread, one write+read pair", single.median.seconds / Double(frames) * 1e9, "ns")

    // A producer thread and a consumer thread, lossless: the producer waits for room.
    let threadedFrames = 500_000
    let threaded = measure(runs: 3) { producerConsumerRun(frames: threadedFrames) }
    let threadedAudio = Double(threadedFrames * frame) / sampleRate
    report("two threads, producer/consumer 320", threadedAudio / threaded.median.seconds, "× real time",
           "best \(Int(threadedAudio / threaded.best.seconds))×")
    report("two threads, per 320-sample frame", threaded.median.seconds / Double(threadedFrames) * 1e9, "ns")
}

/// Moves `frames` frames from a producer thread to this thread through a ring; returns a checksum.
func producerConsumerRun(frames: Int) -> Int {
    final class Done: Sendable { let flag = Atomic<Bool>(false) }
    let ring = AudioRingBuffer(capacity: 16_000)
    let done = Done()
    let producer = Thread {
        let chunk = (0..<frame).map { Int16(truncatingIfNeeded: $0) }
        chunk.withUnsafeBufferPointer { chunk in
            var sent = 0
            while sent < frames {
                if ring.fill <= ring.capacity - frame {
                    ring.write(chunk)
                    sent += 1
                } else {
                    sched_yield()
                }
            }
        }
        done.flag.store(true, ordering: .releasing)
    }
    producer.start()
    var buffer = [Int16](repeating: 0, count: frame)
    var received = 0
    var checksum = 0
    buffer.withUnsafeMutableBufferPointer { buffer in
        while received < frames * frame {
            let count = ring.read(into: buffer)
            if count == 0 { sched_yield(); continue }
            received += count
            checksum &+= Int(buffer[count - 1])
        }
    }
    while !done.flag.load(ordering: .acquiring) { sched_yield() }
    precondition(ring.statistics.droppedSamples == 0, "the lossless producer dropped samples")
    return checksum
}

// MARK: Sentence chunker

/// A typical assistant reply, with the things the chunker must not split on.
let llmReply = """
    Sure! Here's a quick plan for tomorrow. The forecast says 12.5 degrees at 10.30, so bring a \
    jacket, e.g. the blue one. Dr. Smith's office opens at 9 a.m. and closes early on Fridays... \
    maybe call first. You can check https://example.com/hours?day=fri for the details, or write to \
    frontdesk@example.com. Would you like me to set a reminder? I can also add it to your calendar, \
    i.e. the shared one. Traffic on the way is light right now, about 25 minutes by car. \
    Let me know!
    """

func chunkerBenchmark() {
    // Word tokens as an LLM streams them: each word with the space before it.
    let words = llmReply.split(separator: " ", omittingEmptySubsequences: false)
    let tokens = words.enumerated().map { $0.offset == 0 ? String($0.element) : " " + $0.element }
    let replies = 2_000
    print("chunker: SentenceChunker, a \(tokens.count)-token reply (\(llmReply.count) characters) streamed word by word")
    let time = measure {
        var chunks = 0
        for _ in 0..<replies {
            var chunker = SentenceChunker()
            for token in tokens { chunks += chunker.append(token).count }
            if chunker.finish() != nil { chunks += 1 }
        }
        return chunks
    }
    var chunker = SentenceChunker()
    var perReply = tokens.flatMap { chunker.append($0) }
    if let last = chunker.finish() { perReply.append(last) }
    let tokenCount = Double(replies * tokens.count)
    report("tokens per second", tokenCount / time.median.seconds, "tokens/s",
           "best \(Int(tokenCount / time.best.seconds))")
    report("per token", time.median.seconds / tokenCount * 1e9, "ns")
    report("per reply (\(perReply.count) chunks)", time.median.seconds / Double(replies) * 1e6, "µs")
}

// MARK: Turn controller

/// Three turns with the issue's provider latencies: the final transcript 200 ms after the end of
/// speech, LLM first token 400 ms then 30 ms per token, TTS first byte 150 ms.
func threeTurnScenario(_ mode: SpeculationMode, preemptive: Bool) -> Scenario {
    var scenario = Scenario()
    scenario.settings.adaptive.enabled = false
    scenario.settings.speculation = mode
    scenario.settings.preemptiveTTS = preemptive
    scenario.llm = .init(timeToFirstToken: .milliseconds(400), perToken: .milliseconds(30), replies: [
        "Sure. It will be sunny all day, with a high of twenty degrees.",
        "Your next meeting is at three. It is with the design team.",
        "Done. I set a timer for ten minutes and will tell you when it rings.",
    ])
    scenario.tts = .init(timeToFirstByte: .milliseconds(150), perCharacter: .milliseconds(60))
    let questions = ["What's the weather like today?", "When is my next meeting?", "Set a timer for ten minutes."]
    for (index, question) in questions.enumerated() {
        let t = Int64(index) * 20_000
        let speechEnd = t + 1_600
        scenario.events += [
            .init(at: .milliseconds(t), kind: .button),
            .init(at: .milliseconds(t + 100), kind: .speech(.speechStarted)),
            .init(at: .milliseconds(t + 900), kind: .speech(.partial(String(question.prefix(12))))),
            .init(at: .milliseconds(speechEnd), kind: .speech(.speechEnded)),
            .init(at: .milliseconds(speechEnd + 200),
                  kind: .speech(.final(text: question, confidence: 0.95, start: 0.1, end: 1.6))),
        ]
    }
    return scenario
}

func latencyModesBenchmark() {
    print("modes: speech end → first audio, three turns (final +200 ms, LLM 400 ms + 30 ms/token, TTS first byte 150 ms,")
    print("       debounce 400 ms, commit hold 200 ms), on the virtual clock")
    let modes: [(String, SpeculationMode, Bool)] = [
        ("sequential (LLM at commit)", .atCommit, false),
        ("default (after_debounce)", .afterDebounce, false),
        ("at_final", .atFinal, false),
        ("at_final + preemptive_tts", .atFinal, true),
    ]
    for (name, mode, preemptive) in modes {
        let result = ScenarioRunner(scenario: threeTurnScenario(mode, preemptive: preemptive)).run()
        let latencies = result.turns.compactMap(\.latencies.speechEndToFirstAudioMs)
        let commits = result.entries("state").filter { $0.field("to") == .string("committed") }.map(\.time.milliseconds)
        let audio = result.entries("audio_start").map(\.time.milliseconds)
        let afterCommit = zip(audio, commits).map { $0 - $1 }
        let mean = latencies.isEmpty ? 0 : Double(latencies.reduce(0, +)) / Double(latencies.count)
        let list = latencies.map { "\($0)" }.joined(separator: ", ")
        report(name, mean, "ms mean", "turns: \(list) ms; first audio after commit: \(afterCommit.map(String.init).joined(separator: ", ")) ms\(result.violations.isEmpty ? "" : "; VIOLATIONS")")
    }
}

/// What the daemon does between the commit and the first audio handed to playback when the
/// answer's first sentence is already synthesised and held (`at_final` + `preemptive_tts`, turns 1
/// and 3 of `modes`): the commit-hold timer fires, the controller commits and releases the held
/// audio to playback. Measured in real time around the manual clock's step to the commit instant
/// (the controller, the answer pipeline, the actions and the scenario's own recording); the hop
/// onto the turn loop's thread is `turnloop`'s figure.
func commitBenchmark() {
    let scenario = threeTurnScenario(.atFinal, preemptive: true)
    let reference = ScenarioRunner(scenario: scenario).run()
    let commits = reference.entries("state").filter { $0.field("to") == .string("committed") }.map(\.time)
    let audio = Set(reference.entries("audio_start").map(\.time))
    let held = commits.filter { audio.contains($0) }  // the commits whose audio starts at once
    guard !held.isEmpty else {
        print("commit: no commit released held audio (the scenario changed?)")
        return
    }
    var samples: [Duration] = []
    for _ in 0..<500 {
        let runner = ScenarioRunner(scenario: scenario)
        runner.scheduleEvents()
        for commit in held {
            runner.clock.advance(to: commit + .milliseconds(-1))
            let start = ContinuousClock.now
            runner.clock.advance(to: commit)
            samples.append(ContinuousClock.now - start)
        }
        runner.clock.runUntilIdle()
    }
    print("commit: the commit-hold timer fires with the first sentence's audio held, to that audio handed to playback (\(samples.count) commits)")
    reportLatencies("commit → audio to playback", samples)
}

func controllerCostBenchmark() {
    // Record the inputs of a long conversation once, then replay them into a bare controller.
    var scenario = threeTurnScenario(.afterDebounce, preemptive: false)
    let base = scenario.events
    scenario.events = []
    for repeat_ in 0..<100 {
        let offset = Duration.seconds(60 * repeat_)
        scenario.events += base.map { Scenario.Event(at: $0.at + offset, kind: $0.kind) }
    }
    let runner = ScenarioRunner(scenario: scenario)
    var recorded: [(VoiceInstant, TurnInput)] = []
    runner.engine.inputObserver = { input in recorded.append((runner.clock.now, input)) }
    _ = runner.run()
    let events = recorded.count
    print("controller: TurnController.handle, a \(scenario.events.count / 5)-turn conversation replayed (\(events) events)")
    let time = measure(runs: 5) {
        let clock = ManualClock()
        var controller = TurnController(settings: scenario.settings, clock: clock, sessionID: "bench")
        var actions = 0
        for (at, input) in recorded {
            clock.advance(to: at)
            actions &+= controller.handle(input).count
        }
        return actions
    }
    report("per event", time.median.seconds / Double(events) * 1e6, "µs", "best \(String(format: "%.2f", time.best.seconds / Double(events) * 1e6)) µs")
    report("events per second", Double(events) / time.median.seconds, "events/s")
}

// MARK: Simulate

/// A `voiced simulate` document of `turns` turns, five events each, one turn every 20 s.
func simulateDocument(turns: Int) -> [UInt8] {
    var events: [String] = []
    for turn in 0..<turns {
        let t = turn * 20_000
        events += [
            #"{"at_ms": \#(t), "type": "button"}"#,
            #"{"at_ms": \#(t + 100), "type": "speech_start"}"#,
            #"{"at_ms": \#(t + 700), "type": "partial", "text": "what is the"}"#,
            #"{"at_ms": \#(t + 1300), "type": "final", "text": "What is the weather today, number \#(turn)?"}"#,
            #"{"at_ms": \#(t + 1300), "type": "speech_end"}"#,
        ]
    }
    return Array(#"{"description": "bench", "settings": {"adaptive_debounce": false}, "events": [\#n\#(events.joined(separator: ",\n"))\#n]}"#.utf8)
}

func simulateBenchmark() {
    print("simulate: what `voiced simulate FILE --json` does (read the JSON, run on the virtual clock, write the report),")
    print("          a conversation of N events (5 per turn); linear means the same events/s at every size")
    for events in [2_000, 4_000, 8_000] {
        let document = simulateDocument(turns: events / 5)
        var violations = 0
        let time = measure(runs: 3) {
            guard let scenario = try? Scenario.parse(document) else { return -1 }
            let result = ScenarioRunner(scenario: scenario).run()
            violations = result.violations.count
            return result.json.serialized(indent: 2).utf8.count + result.text.utf8.count
        }
        report("\(events) events", Double(events) / time.median.seconds, "events/s",
               "median \(String(format: "%.0f", time.median.seconds * 1000)) ms\(violations == 0 ? "" : "; VIOLATIONS")")
    }
}

// MARK: Turn loop

/// What the turn loop adds to a button press: the press is posted from one thread (standing for
/// the GPIO reader) and the controller runs on the loop's thread, woken by a semaphore as in the
/// daemon. Measured: post → the loop has handled the press and carried out its actions (where a
/// barge-in's `dropPlayback` is carried out).
func turnLoopBenchmark() {
    let clock = ManualClock()
    let wake = DispatchSemaphore(value: 0)
    let engine = TurnEngine(controller: TurnController(clock: clock),
                            llm: ScriptedLanguageModel(clock: clock, replies: []),
                            tts: ScriptedTextToSpeech(clock: clock), fallbackTTS: ScriptedTextToSpeech(clock: clock),
                            playback: VirtualPlayback(clock: clock), indicator: RecordingIndicator(), scheduler: clock,
                            drive: .loop(wake: { wake.signal() }))
    let acted = DispatchSemaphore(value: 0)
    let loop = Thread {
        while true {
            wake.wait()
            if !engine.drainQueued() { break }
        }
    }
    loop.start()
    let presses = 20_000
    var latencies: [Duration] = []
    latencies.reserveCapacity(presses)
    for _ in 0..<presses {
        let posted = ContinuousClock.now
        let handledAt = Mutex(posted)
        engine.post(.button) {  // IDLE → LISTENING; called once its actions are carried out
            handledAt.withLock { $0 = ContinuousClock.now }
            acted.signal()
        }
        acted.wait()
        latencies.append(handledAt.withLock { $0 } - posted)
        engine.post(.shutdown)  // back to IDLE (a wake with no words leaves no record)
    }
    engine.stop()
    wake.signal()
    print("turn loop: a button press posted from another thread, handled on the loop thread (\(presses) presses)")
    reportLatencies("post → handled", latencies)
}

// MARK: Microphone standby

/// What standing the microphone by costs a wake: `ALSACapture` on alsa-lib's `null` PCM (real
/// alsa-lib calls, no sound card: the PCM has data at once), from lifting the standby on another
/// thread (what the turn loop does on a wake) to the first 20 ms frame in the ring: waking the
/// capture thread, `snd_pcm_prepare`, the read. A sound card adds its first period (20 ms) on
/// top, as any start does.
func standbyBenchmark() {
    let ring = AudioRingBuffer(capacity: 16_000)
    let capture = ALSACapture(configuration: .capture(device: "null"), ring: ring, logger: Logger(label: "voiced-bench"))
    capture.setStandby(true)
    do {
        try capture.start()
    } catch {
        print("standby: the capture thread did not start: \(error)")
        return
    }
    defer { capture.stop() }
    func settle(_ done: () -> Bool) -> Bool {
        let deadline = ContinuousClock.now + .seconds(5)
        while !done() {
            if ContinuousClock.now > deadline { return false }
            sched_yield()
        }
        return true
    }
    guard settle({ capture.status == .standby(device: "null") }) else {
        print("standby: the null PCM did not stand by (status: \(capture.status))")
        return
    }
    let wakes = 2_000
    var latencies: [Duration] = []
    latencies.reserveCapacity(wakes)
    for _ in 0..<wakes {
        let before = ring.statistics.written
        let lifted = ContinuousClock.now
        capture.setStandby(false)
        guard settle({ ring.statistics.written > before }) else {
            print("standby: no frame after the standby was lifted")
            return
        }
        latencies.append(ContinuousClock.now - lifted)
        capture.setStandby(true)
        guard settle({ capture.status == .standby(device: "null") }) else {
            print("standby: the capture did not stand by again")
            return
        }
        _ = ring.read(maxCount: ring.fill)
    }
    print("microphone standby: the standby lifted, to the first frame in the ring (alsa-lib null PCM, \(wakes) wakes)")
    reportLatencies("lifted → first frame", latencies)
}

// MARK: Stalled transfer teardown

/// A loopback HTTP server that answers each chat request with one streamed token, then stalls
/// (sends nothing more, keeps the connection open) and notes when the client closes it.
final class StallingServer: @unchecked Sendable {
    // @unchecked: `fd` and `port` are set before the thread starts; `closedAt` is behind its mutex.
    let port: UInt16
    private let fd: Int32
    let tokenSent = DispatchSemaphore(value: 0)
    let closed = DispatchSemaphore(value: 0)
    let closedAt = Mutex<ContinuousClock.Instant?>(nil)

    init?() {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard fd >= 0, bound else { return nil }
        self.fd = fd
        port = UInt16(bigEndian: address.sin_port)
        Thread { [self] in serve() }.start()
    }

    private func serve() {
        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        let event = "data: {\"choices\":[{\"delta\":{\"content\":\"Hello\"}}]}\n\n"
        let chunk = String(event.utf8.count, radix: 16) + "\r\n" + event + "\r\n"
        while true {
            let client = accept(fd, nil, nil)
            guard client >= 0 else { return }
            var request: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            // The request's head, then its body (Content-Length bytes).
            while true {
                let n = read(client, &buffer, buffer.count)
                guard n > 0 else { break }
                request += buffer[0..<n]
                if let end = request.firstRange(of: Array("\r\n\r\n".utf8)) {
                    let head = String(decoding: request[..<end.lowerBound], as: UTF8.self).lowercased()
                    let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                        .flatMap { Int($0.dropFirst("content-length:".count).trimmingWhitespaces()) } ?? 0
                    if request.count - end.upperBound >= length { break }
                }
            }
            let reply = Array((head + chunk).utf8)
            _ = reply.withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
            tokenSent.signal()
            while read(client, &buffer, buffer.count) > 0 {}  // stalled: wait for the client to let go
            closedAt.withLock { $0 = ContinuousClock.now }
            close(client)
            closed.signal()
        }
    }
}

/// A barge-in cancels the answer's LLM call while its transfer is stalled mid-stream: from
/// `cancel(call:)` to the server seeing the connection closed. The real `OpenAIChat` on the real
/// curl loop (its own thread) against a loopback server that sent one token and went quiet.
func teardownBenchmark() {
    guard let server = StallingServer() else {
        print("teardown: cannot listen on loopback")
        return
    }
    let chat: OpenAIChat
    do {
        chat = try OpenAIChat(configuration: OpenAIChatConfiguration(baseURL: "http://127.0.0.1:\(server.port)/v1", apiKey: Secret("bench")))
    } catch {
        print("teardown: \(error)")
        return
    }
    let calls = 300
    var latencies: [Duration] = []
    for call in 1...calls {
        let token = DispatchSemaphore(value: 0)
        chat.start(LLMRequest(turn: call, call: call, messages: [ChatMessage(role: .user, content: "Tell me a story.")])) { event in
            if case .token = event { token.signal() }
        }
        guard token.wait(timeout: .now() + 5) == .success, server.tokenSent.wait(timeout: .now() + 5) == .success else {
            print("teardown: no token from the loopback server")
            return
        }
        usleep(2_000)  // stalled: nothing more comes
        let cancelled = ContinuousClock.now
        chat.cancel(call: call)
        guard server.closed.wait(timeout: .now() + 5) == .success, let closedAt = server.closedAt.withLock({ $0 }) else {
            print("teardown: the cancelled transfer's connection was not closed within 5 s")
            return
        }
        latencies.append(closedAt - cancelled)
    }
    print("stalled transfer teardown: LLM call cancelled mid-stream, to the server seeing the connection closed (\(calls) calls)")
    reportLatencies("cancel → connection closed", latencies)
}

// MARK: Registry

/// Every benchmark, in the order `voiced-bench` runs them. Add new ones here
/// (for example the turn controller's cost per event, or scenario latencies).
let benchmarks: [(name: String, run: () -> Void)] = [
    ("ring", ringBenchmarks),
    ("chunker", chunkerBenchmark),
    ("modes", latencyModesBenchmark),
    ("controller", controllerCostBenchmark),
    ("turnloop", turnLoopBenchmark),
    ("simulate", simulateBenchmark),
    ("standby", standbyBenchmark),
    ("teardown", teardownBenchmark),
    ("commit", commitBenchmark),
]

// The controller logs one line per turn; a benchmark measures the logic, not a terminal.
LoggingSystem.bootstrap { _ in SwiftLogNoOpLogHandler() }

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.contains(where: { ["-h", "--help", "--list"].contains($0) }) {
    print("usage: voiced-bench [\(benchmarks.map(\.name).joined(separator: "|"))]...   (default: all)")
    exit(0)
}
let unknown = arguments.filter { name in !benchmarks.contains { $0.name == name } }
guard unknown.isEmpty else {
    let message = "voiced-bench: unknown benchmark \(unknown.joined(separator: ", ")); known: \(benchmarks.map(\.name).joined(separator: ", "))\n"
    FileHandle.standardError.write(Data(message.utf8))
    exit(2)
}
let selected = arguments.isEmpty ? benchmarks : benchmarks.filter { arguments.contains($0.name) }

#if DEBUG
print("command: swift run voiced-bench\(arguments.map { " " + $0 }.joined())   (binary \(CommandLine.arguments[0]))")
print("warning: this is a debug build; figures are only meaningful with -c release")
#else
print("command: swift run -c release voiced-bench\(arguments.map { " " + $0 }.joined())   (binary \(CommandLine.arguments[0]))")
#endif
print("machine: \(ProcessInfo.processInfo.activeProcessorCount) cores, \(ProcessInfo.processInfo.operatingSystemVersionString)")
print("date:    \(Date().formatted(.iso8601))")
for benchmark in selected {
    print("")
    benchmark.run()
}
