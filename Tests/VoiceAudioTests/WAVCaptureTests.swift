import Foundation
import Glibc
import Testing
import VoiceCore
import VoiceTesting
@testable import VoiceLinux

@Suite struct WAVCaptureTests {
    static func ramp(_ count: Int, from start: Int = 1) -> [Int16] { (start..<start + count).map { Int16($0) } }

    @Test func framesArriveWhenTheClockSaysAMicrophoneWouldHaveDeliveredThem() {
        let clock = ManualClock()
        let ring = AudioRingBuffer()
        let capture = WAVCapture(clips: [WAVCapture.Clip(samples: Self.ramp(800)),
                                         WAVCapture.Clip(samples: Self.ramp(320, from: 5000), offset: .milliseconds(100))],
                                 ring: ring, clock: clock)
        capture.begin(at: clock.now)
        clock.advance(to: .milliseconds(19))
        #expect(capture.produce(upTo: clock.now) == 0)
        clock.advance(to: .milliseconds(20))
        #expect(capture.produce(upTo: clock.now) == 1)
        #expect(ring.fill == 320)
        clock.advance(to: .milliseconds(119))
        #expect(capture.produce(upTo: clock.now) == 4)  // frames 2...5; the 6th is due at 120 ms
        #expect(!capture.isFinished)
        clock.advance(to: .milliseconds(140))
        #expect(capture.produce(upTo: clock.now) == 2)
        #expect(capture.isFinished)
        let expected = Self.ramp(800) + [Int16](repeating: 0, count: 800) + Self.ramp(320, from: 5000) + [Int16](repeating: 0, count: 320)
        let timeline = ring.read(maxCount: 10_000) == expected
        #expect(timeline, "the clips are not at their offsets with silence between")
        // Silence after the last clip, until stopped.
        clock.advance(by: .seconds(1))
        #expect(capture.produce(upTo: clock.now) == 50)
        #expect(ring.read(maxCount: 100_000).allSatisfy { $0 == 0 })
    }

    @Test func theRunLoopIsPacedByTheInjectedClock() async {
        let clock = ManualClock()
        let ring = AudioRingBuffer()
        let (frames, continuation) = AsyncStream<Int>.makeStream()
        let capture = WAVCapture(clips: [WAVCapture.Clip(samples: Self.ramp(3200))], ring: ring, clock: clock,
                                 frameObserver: { continuation.yield(Int($0[0])) })
        capture.begin(at: clock.now)
        let task = Task { await capture.run() }
        clock.advance(to: .milliseconds(60))
        var firsts: [Int] = []
        for await first in frames {
            firsts.append(first)
            if firsts.count == 3 { break }
        }
        #expect(firsts == [1, 321, 641])
        #expect(capture.framesProduced == 3)  // and no more: the 4th is due at 80 ms
        #expect(capture.nextDeadline == .milliseconds(80))
        task.cancel()
        clock.advance(to: .milliseconds(80))  // wakes the loop, which sees the cancellation
        await task.value
    }

    /// The daemon's way: a thread of its own named like ALSA's, paced in real time (this test
    /// waits for real frames, as the ALSA tests on the null PCM do).
    @Test func onItsOwnThreadItDeliversInRealTimeAndStandsBy() throws {
        let ring = AudioRingBuffer()
        let names = Collector<String>()
        let capture = WAVCapture(clips: [WAVCapture.Clip(samples: Self.ramp(3200))], ring: ring, clock: SystemVoiceClock(),
                                 frameObserver: { _ in
                                     let comm = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
                                     names.append(comm.trimmingCharacters(in: .whitespacesAndNewlines))
                                 })
        try capture.start()
        defer { capture.stop() }
        #expect(waitUntil { ring.statistics.written >= 3 * 320 })
        #expect(names.all.first == "voiced-capture")
        capture.setStandby(true)
        #expect(waitUntil { capture.isStandingBy })
        usleep(100_000)  // a frame in progress may still land
        let standing = ring.statistics.written
        usleep(200_000)
        #expect(ring.statistics.written == standing, "frames were written while standing by")
        capture.setStandby(false)
        #expect(waitUntil { ring.statistics.written >= standing + 320 })
    }

    @Test func overlappingClipsFollowOneAnother() {
        let ring = AudioRingBuffer()
        let capture = WAVCapture(clips: [WAVCapture.Clip(samples: Self.ramp(480)),
                                         WAVCapture.Clip(samples: Self.ramp(160, from: 900), offset: .milliseconds(10))],
                                 ring: ring, clock: ManualClock())
        #expect(capture.duration == .milliseconds(40))
        capture.begin(at: .zero)
        capture.produce(upTo: .milliseconds(40))
        let sequential = ring.read(maxCount: 640) == Self.ramp(480) + Self.ramp(160, from: 900)
        #expect(sequential)
    }

    @Test func mutedCaptureWritesNothingButKeepsTime() {
        let ring = AudioRingBuffer()
        let capture = WAVCapture(clips: [WAVCapture.Clip(samples: Self.ramp(640))], ring: ring, clock: ManualClock())
        capture.isMuted = true
        capture.begin(at: .zero)
        #expect(capture.produce(upTo: .milliseconds(40)) == 2)
        #expect(ring.fill == 0)
        capture.isMuted = false
        #expect(capture.produce(upTo: .milliseconds(60)) == 1)
        #expect(ring.fill == 320)
    }

    @Test func standingByWritesNothingAndTheTimelineMovesOn() {
        let ring = AudioRingBuffer()
        let processed = Collector<Int>()
        let capture = WAVCapture(clips: [WAVCapture.Clip(samples: Self.ramp(960))], ring: ring, clock: ManualClock(),
                                 frameProcessor: { processed.append($0.count) })
        capture.setStandby(true)
        #expect(capture.isStandingBy)
        capture.begin(at: .zero)
        // Like a stopped device: the frames due go by unheard, not even to the frame processor.
        #expect(capture.produce(upTo: .milliseconds(40)) == 0)
        #expect(ring.fill == 0 && processed.all.isEmpty)
        capture.setStandby(false)
        #expect(capture.produce(upTo: .milliseconds(60)) == 1)
        #expect(ring.read(maxCount: 320) == Array(Self.ramp(960)[640..<960]))
        #expect(processed.all == [320])
    }

    @Test func clipsLoadFromWAVFilesOfAnyRate() throws {
        let path = ALSAPCMTests.temporaryPath("espeak.wav")
        defer { unlink(path) }
        // What espeak-ng writes: 22050 Hz mono, here 0.5 s of a tone.
        let tone = (0..<11_025).map { AudioMath.clampToInt16(8000 * AudioMath.sin(2 * Double.pi * 300 * Double($0) / 22_050)) }
        try Data(WAV.encode(tone, sampleRate: 22_050)).write(to: URL(fileURLWithPath: path))
        let clip = try WAVCapture.Clip.file(path, at: .seconds(1))
        #expect(clip.samples.count == 8000 && clip.offset == .seconds(1))
        #expect(abs(AudioMath.rms(clip.samples) - 8000 / 2.0.squareRoot()) < 150)
    }

    @Test func aMissingOrBadFileSaysWhich() throws {
        #expect(throws: WAVFileError.cannotRead(path: "/nonexistent/x.wav", reason: "No such file or directory")) {
            try WAVCapture.Clip.file("/nonexistent/x.wav")
        }
        let path = ALSAPCMTests.temporaryPath("bad.wav")
        defer { unlink(path) }
        try Data("ID3 this is an mp3".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: WAVFileError.invalid(path: path, .notRIFF(found: "ID3 "))) { try WAVCapture.Clip.file(path) }
    }
}
