import Foundation
import Glibc
import Logging
import Testing
import VoiceCore
@testable import VoiceLinux

@Suite struct ALSAPlaybackTests {
    static let logger = Logger(label: "test.playback", factory: { _ in SwiftLogNoOpLogHandler() })

    struct Rig {
        let playback: ALSAPlayback
        let events = Collector<PlaybackEvent>()
        let statuses = Collector<AudioDeviceStatus>()
        let reference = PlaybackReference(maximumLag: .seconds(2))

        init(_ devices: [Result<FakePCM, ALSAError>]) {
            let opener = FakeOpener(devices)
            let statuses = self.statuses
            playback = ALSAPlayback(configuration: .playback(device: "fake"), logger: ALSAPlaybackTests.logger,
                                    reference: reference, open: { configuration throws(ALSAError) in try opener.open(configuration) },
                                    onStatus: { statuses.append($0) })
            let events = self.events
            playback.setEventHandler { events.append($0) }
        }

        /// Runs the writer's steps until it would wait for nothing but the device or new audio.
        @discardableResult
        func run(steps: Int = 100) -> [ALSAPlayback.Wait] {
            (0..<steps).map { _ in playback.iterate() }
        }
    }

    static func ramp(_ count: Int, from start: Int = 1) -> [Int16] { (start..<start + count).map { Int16($0) } }

    @Test func writesQueuedAudioInPeriodsAndReportsSegmentsAsTheyPlay() {
        let device = FakePCM()
        device.record.withLock { $0.delay = 500 }  // the device holds 500 frames not yet played
        let rig = Rig([.success(device)])
        rig.playback.enqueue(PlaybackChunk(turn: 1, segment: 0, samples: Self.ramp(800)))
        rig.playback.endSegment(turn: 1, segment: 0)
        rig.run(steps: 4)
        let wrote = Array(device.written.prefix(800)) == Self.ramp(800)
        #expect(wrote)
        #expect(rig.events.all == [.segmentStarted(turn: 1, segment: 0)])  // 300 of 800 played so far
        device.record.withLock { $0.delay = 0 }
        rig.run(steps: 1)
        #expect(rig.events.all == [.segmentStarted(turn: 1, segment: 0), .segmentFinished(turn: 1, segment: 0)])
        #expect(rig.playback.statistics.samplesWritten == 800)
    }

    @Test func pausesAreFilledWithSilenceThenTheDeviceStopsQuietly() {
        let device = FakePCM()
        let rig = Rig([.success(device)])
        rig.playback.enqueue(PlaybackChunk(turn: 1, segment: 0, samples: Self.ramp(320)))
        rig.playback.endSegment(turn: 1, segment: 0)
        let waits = rig.run(steps: 30)
        #expect(rig.playback.statistics.silenceWritten == 8000)  // 500 ms
        #expect(rig.playback.statistics.idleStops == 1)
        #expect(rig.playback.statistics.underruns == 0)
        #expect(device.state == .prepared)
        #expect(waits.last == .idle)
        let silent = device.written.dropFirst(320).allSatisfy { $0 == 0 }
        #expect(silent)
        // The reference heard the audio and the silence, in order.
        var reference = [Int16](repeating: 0, count: 320)
        reference.withUnsafeMutableBufferPointer { _ = rig.reference.next(into: $0) }
        let heard = reference == Self.ramp(320)
        #expect(heard)
    }

    @Test func dropSilencesAtOnceAndNothingQueuedBeforeItIsWrittenAfter() {
        let device = FakePCM()
        device.record.withLock { $0.delay = 640 }
        let rig = Rig([.success(device)])
        rig.playback.enqueue(PlaybackChunk(turn: 1, segment: 0, samples: Self.ramp(3200)))
        rig.playback.endSegment(turn: 1, segment: 0)
        rig.run(steps: 3)  // open, two periods
        #expect(device.written.count == 640)
        rig.playback.drop()
        #expect(device.record.withLock { ($0.drops, $0.prepares) } == (1, 1))
        rig.run(steps: 10)
        #expect(device.written.count == 640)
        #expect(rig.playback.queuedSamples == 0)
        #expect(rig.playback.statistics.samplesDiscarded == 2560)
        #expect(rig.events.all == [.segmentStarted(turn: 1, segment: 0)])  // never finished
        // The next turn plays normally.
        rig.playback.enqueue(PlaybackChunk(turn: 2, segment: 0, samples: Self.ramp(100, from: 5000)))
        rig.run(steps: 1)
        let next = Array(device.written.suffix(100)) == Self.ramp(100, from: 5000)
        #expect(next)
    }

    @Test func anUnderrunIsRecoveredAndCountedAndNoAudioIsLost() {
        let device = FakePCM()
        device.scriptWrites([320, -Int(EPIPE)])
        let rig = Rig([.success(device)])
        rig.playback.enqueue(PlaybackChunk(turn: 1, segment: 0, samples: Self.ramp(960)))
        rig.run(steps: 6)
        #expect(rig.playback.statistics.underruns == 1)
        #expect(device.record.withLock { $0.recovered } == [-EPIPE])
        let complete = Array(device.written.prefix(960)) == Self.ramp(960)
        #expect(complete)
    }

    @Test func aVanishedDeviceIsReopenedAndPlaybackGoesOn() {
        let first = FakePCM()
        first.scriptWrites([320, -Int(ENODEV)])
        let second = FakePCM()
        let rig = Rig([.success(first), .success(second)])
        rig.playback.enqueue(PlaybackChunk(turn: 1, segment: 0, samples: Self.ramp(960)))
        rig.run(steps: 6)
        #expect(rig.playback.statistics.reopens == 1)
        #expect(first.record.withLock { $0.recovered }.isEmpty)
        let rest = Array(second.written.prefix(640)) == Self.ramp(640, from: 321)
        #expect(rest)
    }

    @Test func withNoDeviceQueuedAudioCountsAsPlayedSoTurnsStillEnd() {
        let rig = Rig([.failure(noDevice)])
        rig.playback.enqueue(PlaybackChunk(turn: 1, segment: 0, samples: Self.ramp(320)))
        rig.playback.endSegment(turn: 1, segment: 0)
        let waits = rig.run(steps: 1)
        #expect(waits == [.backoff(.milliseconds(250))])
        #expect(rig.events.all == [.segmentStarted(turn: 1, segment: 0), .segmentFinished(turn: 1, segment: 0)])
        #expect(rig.statuses.all.last?.isError == true)
        #expect(rig.playback.statistics.samplesDiscarded == 320)
    }

    @Test func volumeScalesWhatIsWritten() {
        let device = FakePCM()
        let rig = Rig([.success(device)])
        rig.playback.volume = 0
        rig.playback.enqueue(PlaybackChunk(turn: 1, segment: 0, samples: [Int16](repeating: 10_000, count: 320)))
        rig.playback.volume = 200
        #expect(rig.playback.volume == 100)
        rig.playback.volume = 50
        rig.run(steps: 2)
        let expected = Int16((10_000 * SoftwareVolume(50).gain).rounded())
        #expect(device.written.first == expected)
    }

    // MARK: - Real ALSA PCMs

    @Test func playsThroughTheNullPCMOnItsOwnThreadAndReportsEveryEvent() throws {
        let events = Collector<PlaybackEvent>()
        let statuses = Collector<AudioDeviceStatus>()
        let playback = ALSAPlayback(configuration: .playback(device: "null"), logger: Self.logger,
                                    onStatus: { statuses.append($0) })
        playback.setEventHandler { events.append($0) }
        try playback.start()
        playback.enqueue(PlaybackChunk(turn: 1, segment: 0, samples: Self.ramp(1000)))
        playback.enqueue(PlaybackChunk(turn: 1, segment: 0, samples: Self.ramp(500)))
        playback.endSegment(turn: 1, segment: 0)
        playback.enqueue(PlaybackChunk(turn: 1, segment: 1, samples: Self.ramp(700)))
        playback.endSegment(turn: 1, segment: 1)
        #expect(waitUntil { events.all.count >= 4 })
        playback.stop()
        #expect(events.all == [.segmentStarted(turn: 1, segment: 0), .segmentFinished(turn: 1, segment: 0),
                               .segmentStarted(turn: 1, segment: 1), .segmentFinished(turn: 1, segment: 1)])
        #expect(playback.statistics.samplesWritten == 2200)
        guard case .running(_, let format)? = statuses.all.first else {
            Issue.record("no running status: \(statuses.all)")
            return
        }
        #expect(format.period <= .milliseconds(20) && format.buffer <= .milliseconds(80))
        #expect(statuses.all.last == .stopped)
    }

    @Test func dropsRacingTheWriterThreadNeitherBlockNorLeakOldTurns() throws {
        let events = Collector<PlaybackEvent>()
        let playback = ALSAPlayback(configuration: .playback(device: "null"), logger: Self.logger)
        playback.setEventHandler { events.append($0) }
        try playback.start()
        for turn in 1...50 {
            playback.enqueue(PlaybackChunk(turn: turn, segment: 0, samples: Self.ramp(3200)))
            playback.endSegment(turn: turn, segment: 0)
            playback.drop()
        }
        playback.enqueue(PlaybackChunk(turn: 99, segment: 0, samples: Self.ramp(640)))
        playback.endSegment(turn: 99, segment: 0)
        #expect(waitUntil { events.all.contains(.segmentFinished(turn: 99, segment: 0)) })
        playback.stop()
        #expect(playback.statistics.drops == 50)
        #expect(playback.queuedSamples == 0)
    }

    @Test func theFilePCMReceivesTheAudioInOrderAtTheVolumeSet() throws {
        let path = ALSAPCMTests.temporaryPath("speaker.raw")
        defer { unlink(path) }
        let events = Collector<PlaybackEvent>()
        let playback = ALSAPlayback(configuration: .playback(device: "file:'\(path)',raw"), logger: Self.logger)
        playback.setEventHandler { events.append($0) }
        try playback.start()
        let samples = Self.ramp(4000)
        playback.enqueue(PlaybackChunk(turn: 3, segment: 0, samples: samples))
        playback.endSegment(turn: 3, segment: 0)
        #expect(waitUntil { events.all.count >= 2 })
        playback.stop()
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let recorded = stride(from: 0, to: bytes.count - 1, by: 2).map { Int16(bitPattern: UInt16(bytes[$0]) | UInt16(bytes[$0 + 1]) << 8) }
        let inOrder = Array(recorded.prefix(4000)) == samples && recorded.dropFirst(4000).allSatisfy { $0 == 0 }
        #expect(inOrder, "the file does not hold the audio followed by silence")
    }
}
