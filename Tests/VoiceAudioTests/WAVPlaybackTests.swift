import Foundation
import Glibc
import Testing
import VoiceCore
import VoiceTesting
@testable import VoiceLinux

@Suite struct WAVPlaybackTests {
    static func ramp(_ count: Int, from start: Int = 1) -> [Int16] { (start..<start + count).map { Int16(truncatingIfNeeded: $0) } }

    /// A playback on a manual clock recording events with the clock's time.
    struct Rig {
        let clock = ManualClock()
        let path = ALSAPCMTests.temporaryPath("played.wav")
        let events = Collector<(VoiceInstant, PlaybackEvent)>()
        let reference = PlaybackReference(maximumLag: .seconds(5))
        let playback: WAVPlayback

        init() throws {
            playback = try WAVPlayback(path: path, clock: clock, reference: reference)
            let clock = self.clock
            let events = self.events
            playback.setEventHandler { events.append((clock.now, $0)) }
        }

        func at(_ milliseconds: Int64) {
            clock.advance(to: .milliseconds(milliseconds))
            playback.tick()
        }

        var recorded: [Int16] { (try? WAVFile.read(path).samples) ?? [] }

        var timeline: [String] {
            events.all.map { instant, event in
                switch event {
                case .segmentStarted(let turn, let segment): "\(instant.milliseconds) started \(turn).\(segment)"
                case .segmentFinished(let turn, let segment): "\(instant.milliseconds) finished \(turn).\(segment)"
                }
            }
        }
    }

    @Test func eventsComeWhenARealSpeakerWouldReportThem() throws {
        let rig = try Rig()
        defer { unlink(rig.path) }
        rig.at(5)
        rig.playback.enqueue(PlaybackChunk(turn: 1, segment: 0, samples: Self.ramp(4800)))  // 300 ms
        rig.playback.enqueue(PlaybackChunk(turn: 1, segment: 1, samples: Self.ramp(3200)))  // 200 ms
        rig.playback.endSegment(turn: 1, segment: 0)
        rig.playback.endSegment(turn: 1, segment: 1)
        for t in stride(from: 20, through: 600, by: 20) { rig.at(Int64(t)) }
        #expect(rig.timeline == ["5 started 1.0", "320 finished 1.0", "320 started 1.1", "520 finished 1.1"])
        let whole = rig.recorded == Self.ramp(4800) + Self.ramp(3200)
        #expect(whole)
    }

    @Test func aSegmentEndedAfterItPlayedFinishesAtOnce() throws {
        let rig = try Rig()
        defer { unlink(rig.path) }
        rig.playback.enqueue(PlaybackChunk(turn: 2, segment: 0, samples: Self.ramp(320)))
        rig.at(100)
        rig.playback.endSegment(turn: 2, segment: 0)
        #expect(rig.timeline == ["0 started 2.0", "100 finished 2.0"])
    }

    @Test func dropDiscardsTheQueueAndTheFileHoldsOnlyWhatPlayed() throws {
        let rig = try Rig()
        defer { unlink(rig.path) }
        rig.playback.enqueue(PlaybackChunk(turn: 1, segment: 0, samples: Self.ramp(16_000)))
        rig.playback.enqueue(PlaybackChunk(turn: 1, segment: 1, samples: Self.ramp(16_000)))
        rig.playback.endSegment(turn: 1, segment: 0)
        rig.at(200)
        rig.clock.advance(to: .milliseconds(310))
        rig.playback.drop()
        rig.at(2000)
        #expect(!rig.playback.isPlaying)
        let cut = rig.recorded == Self.ramp(4960)  // 310 ms, not a sample more
        #expect(cut, "recorded \(rig.recorded.count) samples")
        #expect(rig.timeline == ["0 started 1.0"])
    }

    @Test func pausesAreRecordedAsSilenceUpToTheCap() throws {
        let rig = try Rig()
        defer { unlink(rig.path) }
        rig.playback.enqueue(PlaybackChunk(turn: 1, segment: 0, samples: Self.ramp(1600)))  // 0-100 ms
        rig.at(400)
        rig.playback.enqueue(PlaybackChunk(turn: 2, segment: 0, samples: Self.ramp(1600)))  // 400-500 ms
        rig.at(10_000)
        rig.playback.enqueue(PlaybackChunk(turn: 3, segment: 0, samples: Self.ramp(1600)))  // after 9.5 s idle
        rig.at(10_100)
        let expected = Self.ramp(1600) + [Int16](repeating: 0, count: 4800) + Self.ramp(1600)
            + [Int16](repeating: 0, count: 16_000) + Self.ramp(1600)
        let recorded = rig.recorded == expected
        #expect(recorded, "recorded \(rig.recorded.count) samples")
    }

    @Test func theReferenceAndTheVolumeFollowWhatPlays() throws {
        let rig = try Rig()
        defer { unlink(rig.path) }
        rig.playback.volume = 0
        rig.playback.enqueue(PlaybackChunk(turn: 1, segment: 0, samples: [Int16](repeating: 9000, count: 640)))
        rig.at(20)
        #expect(rig.reference.pending == 320)  // what played by 20 ms, not what was queued
        rig.at(40)
        #expect(rig.recorded == [Int16](repeating: 0, count: 640))
    }

    @Test func theRunLoopPlaysOnTheInjectedClock() async throws {
        let clock = ManualClock()
        let (events, continuation) = AsyncStream<PlaybackEvent>.makeStream()
        let playback = try WAVPlayback(path: nil, clock: clock)
        playback.setEventHandler { continuation.yield($0) }
        let task = Task { await playback.run() }
        playback.enqueue(PlaybackChunk(turn: 1, segment: 0, samples: Self.ramp(1600)))
        playback.endSegment(turn: 1, segment: 0)
        clock.advance(to: .milliseconds(100))
        var seen: [PlaybackEvent] = []
        for await event in events {
            seen.append(event)
            if seen.count == 2 { break }
            // The loop may have ticked before the clock moved: move it on until the audio played.
            clock.advance(by: .milliseconds(20))
        }
        #expect(seen == [.segmentStarted(turn: 1, segment: 0), .segmentFinished(turn: 1, segment: 0)])
        #expect(playback.playedSamples == 1600)
        task.cancel()
        clock.advance(by: .seconds(1))
        await task.value
    }
}
