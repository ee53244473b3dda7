import Testing
import VoiceCore

@Suite struct PlaybackSegmentTrackerTests {
    let a = PlaybackSegmentTracker.Key(turn: 1, segment: 0)
    let b = PlaybackSegmentTracker.Key(turn: 1, segment: 1)

    @Test func segmentsStartWhenWrittenAndFinishWhenPlayedAndEnded() {
        var tracker = PlaybackSegmentTracker()
        tracker.enqueued(a, count: 640)
        tracker.enqueued(b, count: 320)
        #expect(tracker.wrote(a, count: 320, at: 0) == [.segmentStarted(turn: 1, segment: 0)])
        #expect(tracker.wrote(a, count: 320, at: 320) == [])
        #expect(tracker.played(upTo: 640) == [])  // not ended yet
        tracker.ended(a)
        #expect(tracker.played(upTo: 639) == [])  // its last sample has not played
        #expect(tracker.played(upTo: 640) == [.segmentFinished(turn: 1, segment: 0)])
        #expect(tracker.played(upTo: 640) == [])  // once
        tracker.ended(b)
        #expect(tracker.played(upTo: 10_000) == [])  // still queued
        #expect(tracker.wrote(b, count: 320, at: 640) == [.segmentStarted(turn: 1, segment: 1)])
        #expect(tracker.played(upTo: 960) == [.segmentFinished(turn: 1, segment: 1)])
    }

    @Test func aDropForgetsEverySegmentInProgress() {
        var tracker = PlaybackSegmentTracker()
        tracker.enqueued(a, count: 640)
        _ = tracker.wrote(a, count: 320, at: 0)
        tracker.ended(a)
        tracker.dropped()
        #expect(tracker.played(upTo: 10_000) == [])
        #expect(tracker.inProgress == 0)
    }
}
