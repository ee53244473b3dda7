import Foundation
import Glibc
import Logging
import Testing
import VoiceCore
@testable import VoiceLinux

@Suite struct ALSACaptureTests {
    static let logger = Logger(label: "test.capture", factory: { _ in SwiftLogNoOpLogHandler() })

    static func capture(ring: AudioRingBuffer, opener: FakeOpener, sleeps: Collector<Duration> = Collector(),
                        statuses: Collector<AudioDeviceStatus> = Collector()) -> ALSACapture {
        ALSACapture(configuration: .capture(device: "fake"), ring: ring, logger: logger,
                    open: { configuration throws(ALSAError) in try opener.open(configuration) },
                    backoffSleep: { sleeps.append($0) }, onStatus: { statuses.append($0) })
    }

    @Test func readsTwentyMillisecondFramesIntoTheRing() {
        let device = FakePCM()
        device.scriptReads([320, 100, 220, 160])
        let ring = AudioRingBuffer()
        let capture = Self.capture(ring: ring, opener: FakeOpener([.success(device)]))
        for _ in 0..<5 { capture.iterate() }
        #expect(ring.read(maxCount: 10_000) == (0..<640).map { Int16($0) })  // the last 160 wait for a whole frame
        #expect(capture.statistics.frames == 2)
    }

    @Test func anOverrunIsRecoveredAndCounted() {
        let device = FakePCM()
        device.scriptReads([320, 100, -Int(EPIPE), 320])
        let ring = AudioRingBuffer()
        let capture = Self.capture(ring: ring, opener: FakeOpener([.success(device)]))
        for _ in 0..<5 { capture.iterate() }
        #expect(capture.statistics.overruns == 1)
        #expect(device.record.withLock { $0.recovered } == [-EPIPE])
        // The frame torn by the overrun is dropped; capture goes on.
        #expect(ring.read(maxCount: 10_000) == (0..<320).map { Int16($0) } + (420..<740).map { Int16($0) })
    }

    @Test func aVanishedDeviceIsReopenedWithBackoffWhileTheStatusSaysWhy() {
        let first = FakePCM()
        first.scriptReads([320, -Int(ENODEV)])
        let second = FakePCM()
        second.scriptReads([320])
        let opener = FakeOpener([.success(first), .failure(noDevice), .failure(noDevice), .success(second)])
        let sleeps = Collector<Duration>()
        let statuses = Collector<AudioDeviceStatus>()
        let ring = AudioRingBuffer()
        let capture = Self.capture(ring: ring, opener: opener, sleeps: sleeps, statuses: statuses)
        for _ in 0..<7 { capture.iterate() }
        #expect(opener.attempts.load(ordering: .relaxed) == 4)
        #expect(sleeps.all == [.milliseconds(250), .milliseconds(500)])
        #expect(capture.statistics.reopens == 1)
        #expect(ring.fill == 640)
        let kinds = statuses.all.map { status -> String in
            switch status {
            case .running: "running"
            case .standby: "standby"
            case .unavailable(_, let reason, let attempt, let retry): "lost \(attempt) \(retry.wholeMilliseconds) \(reason.contains("No such device"))"
            case .stopped: "stopped"
            }
        }
        #expect(kinds == ["running", "lost 0 0 true", "lost 1 250 true", "lost 2 500 true", "running"])
        #expect(statuses.all[2].isError)
        #expect(statuses.all[2].statusText("microphone").contains("microphone fake unavailable"))
    }

    @Test func aStalledDeviceIsReopened() {
        let device = FakePCM()
        device.record.withLock { $0.waitResult = 0 }  // never ready
        let opener = FakeOpener([.success(device), .success(FakePCM())])
        let capture = Self.capture(ring: AudioRingBuffer(), opener: opener)
        for _ in 0..<52 { capture.iterate() }  // 2 s of 40 ms waits, then the reopen
        #expect(capture.statistics.reopens == 1)
        #expect(opener.attempts.load(ordering: .relaxed) == 2)
    }

    @Test func mutedCaptureWritesNothing() {
        let device = FakePCM()
        device.scriptReads([320, 320])
        let ring = AudioRingBuffer()
        let capture = Self.capture(ring: ring, opener: FakeOpener([.success(device)]))
        capture.isMuted = true
        for _ in 0..<3 { capture.iterate() }
        #expect(ring.fill == 0)
        #expect(capture.statistics.mutedFrames == 2)
    }

    @Test func standingByStopsTheDeviceAndReadsNothingUntilItIsLifted() {
        let device = FakePCM()
        device.scriptReads([320])
        let ring = AudioRingBuffer()
        let sleeps = Collector<Duration>()
        let statuses = Collector<AudioDeviceStatus>()
        let capture = Self.capture(ring: ring, opener: FakeOpener([.success(device)]), sleeps: sleeps, statuses: statuses)
        capture.setStandby(true)
        capture.iterate()  // the device is opened first, so that its status is true
        #expect(device.record.withLock { $0.drops } == 0)
        capture.iterate()  // then stopped
        #expect(device.record.withLock { $0.drops } == 1)
        #expect(capture.status == .standby(device: "fake"))
        #expect(capture.status.statusText("microphone") == "microphone fake standing by (not capturing until a wake)")
        #expect(!capture.status.isError)
        for _ in 0..<3 { capture.iterate() }
        // Nothing is read while standing by: the loop sleeps (1 s at most, to beat the watchdog).
        #expect(device.record.withLock { $0.reads } == [320])
        #expect(sleeps.all == [.seconds(1), .seconds(1), .seconds(1), .seconds(1)])
        #expect(ring.fill == 0)
        #expect(device.record.withLock { $0.drops } == 1)

        capture.setStandby(false)
        capture.iterate()  // prepared again, and the frame read
        #expect(device.record.withLock { $0.prepares } == 1)
        #expect(ring.fill == 320)
        #expect(capture.statistics.frames == 1)
        let kinds = statuses.all.map { status -> String in
            switch status {
            case .running: "running"
            case .standby: "standby"
            case .unavailable: "lost"
            case .stopped: "stopped"
            }
        }
        #expect(kinds == ["running", "standby", "running"])
    }

    @Test func aDeviceUnpluggedWhileStandingByIsReportedAndReopened() {
        let device = FakePCM()
        let opener = FakeOpener([.success(device)])
        let capture = Self.capture(ring: AudioRingBuffer(), opener: opener)
        capture.setStandby(true)
        capture.iterate()
        capture.iterate()
        device.record.withLock { $0.state = .disconnected }
        capture.iterate()
        #expect(capture.statistics.reopens == 1)
        capture.iterate()  // the reopen fails: no such device
        #expect(capture.status.isError)
        #expect(capture.status.statusText("microphone").contains("microphone fake unavailable"))
    }

    @Test func aDeviceThatCannotBePreparedAfterStandbyIsReopened() {
        let device = FakePCM()
        let opener = FakeOpener([.success(device), .success(FakePCM())])
        let capture = Self.capture(ring: AudioRingBuffer(), opener: opener)
        capture.setStandby(true)
        capture.iterate()
        capture.iterate()
        device.record.withLock { $0.prepareResult = -ENODEV }
        capture.setStandby(false)
        capture.iterate()
        #expect(capture.statistics.reopens == 1)
        capture.iterate()
        #expect(opener.attempts.load(ordering: .relaxed) == 2)
        guard case .running = capture.status else {
            Issue.record("not running again: \(capture.status)")
            return
        }
    }

    // MARK: - Real ALSA PCMs

    @Test func capturesFromTheNullPCMOnItsOwnThread() throws {
        let ring = AudioRingBuffer()
        let statuses = Collector<AudioDeviceStatus>()
        let capture = ALSACapture(configuration: .capture(device: "null"), ring: ring, logger: Self.logger,
                                  onStatus: { statuses.append($0) })
        try capture.start()
        #expect(waitUntil { ring.statistics.written >= 3200 })
        capture.stop()
        #expect(capture.status == .stopped)
        guard case .running(let device, let format)? = statuses.all.first else {
            Issue.record("no running status: \(statuses.all)")
            return
        }
        #expect(device == "null" && format.periodFrames == 320)
        #expect(capture.statistics.frames >= 10 && capture.statistics.overruns == 0)
    }

    @Test func capturesFromAFilePCMInOrder() throws {
        let path = ALSAPCMTests.temporaryPath("mic.raw")
        defer { unlink(path) }
        let samples = (0..<3200).map { Int16($0) }
        try Data(WAV.encode(samples).dropFirst(WAV.headerSize)).write(to: URL(fileURLWithPath: path))
        var configuration = PCMConfiguration.capture(device: "mic")
        configuration.configurationText = "pcm.mic { type file slave.pcm { type null } file \"/dev/null\" infile \"\(path)\" format raw }"
        // The file PCM does not pace: the thread reads far ahead, so watch the first frames.
        let frames = Collector<[Int16]>()
        let capture = ALSACapture(configuration: configuration, ring: AudioRingBuffer(), logger: Self.logger,
                                  frameObserver: { frames.append(Array($0)) })
        try capture.start()
        #expect(waitUntil { frames.all.count >= 10 })
        capture.stop()
        let first = Array(frames.all.prefix(10).joined())
        let inOrder = first == samples
        #expect(inOrder, "the first frames are not the file's samples in order")
    }

    @Test func aMissingPCMIsReportedAndRetried() {
        let statuses = Collector<AudioDeviceStatus>()
        let sleeps = Collector<Duration>()
        let capture = ALSACapture(configuration: .capture(device: "no-such-mic"), ring: AudioRingBuffer(), logger: Self.logger,
                                  backoffSleep: { sleeps.append($0) }, onStatus: { statuses.append($0) })
        capture.iterate()
        capture.iterate()
        #expect(sleeps.all == [.milliseconds(250), .milliseconds(500)])
        guard case .unavailable(_, let reason, _, _)? = statuses.all.last else {
            Issue.record("no unavailable status: \(statuses.all)")
            return
        }
        #expect(reason.contains("snd_pcm_open failed on PCM \"no-such-mic\""))
    }
}
