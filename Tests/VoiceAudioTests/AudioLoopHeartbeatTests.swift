import Glibc
import Logging
import Testing
import VoiceCore
import VoiceTesting
@testable import VoiceLinux

/// The watchdog watches whether the audio loops are alive, not whether audio flows: a muted
/// microphone and an unplugged device are states the daemon lives in, not hangs.
@Suite struct AudioLoopHeartbeatTests {
    static let logger = Logger(label: "test.loops", factory: { _ in SwiftLogNoOpLogHandler() })

    @Test func aMutedCaptureLoopKeepsTheWatchdogFed() {
        let clock = ManualClock()
        let heartbeats = LoopHeartbeats(loops: ["capture"], window: .seconds(10), clock: clock)
        let device = FakePCM()
        device.scriptReads([Int](repeating: 320, count: 1500))
        let ring = AudioRingBuffer()
        let capture = ALSACapture(configuration: .capture(device: "fake"), ring: ring, logger: Self.logger,
                                  open: { _ throws(ALSAError) in device }, backoffSleep: { _ in },
                                  frameObserver: { _ in Issue.record("a muted frame reached the observer") },
                                  loopHeartbeat: heartbeats.heartbeat(for: "capture"))
        capture.isMuted = true
        for _ in 0..<1500 {  // 30 s of 20 ms frames
            capture.iterate()
            clock.advance(by: .milliseconds(20))
            #expect(heartbeats.decision() == .ping)
        }
        #expect(ring.fill == 0)
        #expect(capture.statistics.mutedFrames == 1499)  // the first step opened the device
    }

    @Test func aCaptureDeviceGoneForMinutesKeepsTheWatchdogFedAndComesBack() {
        let clock = ManualClock()
        let heartbeats = LoopHeartbeats(loops: ["capture"], window: .seconds(10), clock: clock)
        let back = FakePCM()
        back.scriptReads([320])
        // Gone at startup for 60 attempts (about five minutes at the 5 s backoff ceiling), then back.
        let opener = FakeOpener([Result<FakePCM, ALSAError>](repeating: .failure(noDevice), count: 60) + [.success(back)])
        let statuses = Collector<AudioDeviceStatus>()
        let capture = ALSACapture(configuration: .capture(device: "fake"), ring: AudioRingBuffer(), logger: Self.logger,
                                  open: { configuration throws(ALSAError) in try opener.open(configuration) },
                                  backoffSleep: { delay in clock.advance(by: delay) },
                                  loopHeartbeat: heartbeats.heartbeat(for: "capture"), onStatus: { statuses.append($0) })
        for _ in 0..<60 {
            capture.iterate()
            #expect(heartbeats.decision() == .ping, "the loop is alive while the device is gone")
        }
        #expect(clock.now > .milliseconds(240_000))
        #expect(capture.status.isError)
        capture.iterate()  // opens
        capture.iterate()  // reads
        #expect(capture.status == .running(device: "fake", format: back.format))
        #expect(capture.statistics.frames == 1)
    }

    @Test func aStuckCaptureLoopStarvesTheWatchdog() {
        let clock = ManualClock()
        let heartbeats = LoopHeartbeats(loops: ["capture"], window: .seconds(10), clock: clock)
        let capture = ALSACapture(configuration: .capture(device: "fake"), ring: AudioRingBuffer(), logger: Self.logger,
                                  open: { _ throws(ALSAError) in FakePCM() }, backoffSleep: { _ in },
                                  loopHeartbeat: heartbeats.heartbeat(for: "capture"))
        capture.iterate()
        clock.advance(by: .seconds(11))  // the loop never came round again: stuck in a driver
        #expect(heartbeats.decision() == .withhold(stalled: ["capture"]))
    }

    @Test func aPlaybackDeviceLostMidTurnKeepsTheWatchdogFedAndIsReopened() {
        let clock = ManualClock()
        let heartbeats = LoopHeartbeats(loops: ["playback"], window: .seconds(10), clock: clock)
        let first = FakePCM()
        first.scriptWrites([320, -Int(ENODEV)])
        let opener = FakeOpener([.success(first)] + [Result<FakePCM, ALSAError>](repeating: .failure(noDevice), count: 30) + [.success(FakePCM())])
        let statuses = Collector<AudioDeviceStatus>()
        let playback = ALSAPlayback(configuration: .playback(device: "fake"), logger: Self.logger,
                                    open: { configuration throws(ALSAError) in try opener.open(configuration) },
                                    loopHeartbeat: heartbeats.heartbeat(for: "playback"), onStatus: { statuses.append($0) })
        playback.enqueue(PlaybackChunk(turn: 1, segment: 0, samples: [Int16](repeating: 1000, count: 16_000)))
        var sawError = false
        for _ in 0..<200 {
            switch playback.iterate() {
            case .backoff(let delay): clock.advance(by: delay)
            default: clock.advance(by: .milliseconds(20))
            }
            #expect(heartbeats.decision() == .ping)
            if playback.status.isError { sawError = true }
            if case .running = playback.status, opener.attempts.load(ordering: .relaxed) == 32 { break }
        }
        #expect(sawError)
        #expect(opener.attempts.load(ordering: .relaxed) == 32)
        if case .running = playback.status {} else { Issue.record("the speaker did not come back: \(playback.status)") }
    }
}

@Suite struct IdlePlaybackDisconnectTests {
    /// An idle speaker never writes, so it never sees the error a write would return: without a
    /// look at the state, it kept the card open and the kernel's unbind waited on it forever.
    @Test func anIdlePlaybackDeviceThatIsDisconnectedIsClosedAndReopened() {
        let gone = FakePCM()
        let opener = FakeOpener([.success(gone), .failure(noDevice), .success(FakePCM())])
        let statuses = Collector<AudioDeviceStatus>()
        let playback = ALSAPlayback(configuration: .playback(device: "fake"), logger: AudioLoopHeartbeatTests.logger,
                                    open: { configuration throws(ALSAError) in try opener.open(configuration) },
                                    onStatus: { statuses.append($0) })
        _ = playback.iterate()  // opens
        #expect(playback.iterate() == .idle)
        gone.record.withLock { $0.state = .disconnected }
        _ = playback.iterate()
        #expect(playback.status.isError, "the lost card is reported at once")
        for _ in 0..<3 { _ = playback.iterate() }
        #expect(opener.attempts.load(ordering: .relaxed) == 3)
        if case .running = playback.status {} else { Issue.record("not reopened: \(playback.status)") }
    }
}
