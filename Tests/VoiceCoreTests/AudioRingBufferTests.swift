import Foundation
import Synchronization
import Testing
import VoiceCore
import VoiceTesting

/// Samples whose value is their index, so what comes out shows which samples survived.
fileprivate func ramp(_ range: Range<Int>) -> [Int16] { range.map { Int16(truncatingIfNeeded: $0) } }

@Suite struct AudioRingBufferTests {
    // MARK: Capacity and fill

    @Test func capacityIsAtLeastOneAndDefaultsToTenSecondsAt16kHz() {
        #expect(AudioRingBuffer().capacity == 160_000)
        #expect(AudioRingBuffer.defaultCapacity == 10 * 16_000)
        #expect(AudioRingBuffer(capacity: 0).capacity == 1)
        #expect(AudioRingBuffer(capacity: -5).capacity == 1)
        #expect(AudioRingBuffer(capacity: 1024).statistics.capacity == 1024)
    }

    @Test func writesUpToTheCapacityFillWithoutDropping() {
        let ring = AudioRingBuffer(capacity: 8)
        #expect(ring.write(ramp(0..<5)) == 0)
        #expect(ring.fill == 5)
        #expect(ring.write(ramp(5..<8)) == 0)
        #expect(ring.statistics == .init(fill: 8, capacity: 8, written: 8, droppedSamples: 0, overflowEvents: 0))
        #expect(ring.statistics.fillRatio == 1)
        #expect(ring.read(maxCount: 6) == ramp(0..<6))
        #expect(ring.fill == 2)
        #expect(ring.statistics.fillRatio == 0.25)
    }

    // MARK: Overflow

    @Test(arguments: [1, 3, 7, 8])
    func writingCapacityPlusKDropsTheKOldest(k: Int) {
        let ring = AudioRingBuffer(capacity: 8)
        #expect(ring.write(ramp(0..<8)) == 0)
        #expect(ring.write(ramp(8..<8 + k)) == k)
        #expect(ring.statistics == .init(fill: 8, capacity: 8, written: 8 + k, droppedSamples: k, overflowEvents: 1))
        #expect(ring.read(maxCount: 100) == ramp(k..<8 + k))  // the newest, in order
        #expect(ring.fill == 0)
    }

    @Test func overflowEventsCountWritesThatDroppedNotSamples() {
        let ring = AudioRingBuffer(capacity: 4)
        for value in 0..<10 { ring.write(ramp(value..<value + 1)) }  // the last 6 writes each drop one
        #expect(ring.statistics == .init(fill: 4, capacity: 4, written: 10, droppedSamples: 6, overflowEvents: 6))
        #expect(ring.write(ramp(10..<13)) == 3)
        #expect(ring.statistics.overflowEvents == 7)
        #expect(ring.statistics.droppedSamples == 9)
        #expect(ring.read(maxCount: 4) == ramp(9..<13))
    }

    @Test func aWriteLargerThanTheCapacityKeepsOnlyTheNewestCapacitySamples() {
        let ring = AudioRingBuffer(capacity: 8)
        #expect(ring.write(ramp(0..<20)) == 12)
        #expect(ring.statistics == .init(fill: 8, capacity: 8, written: 20, droppedSamples: 12, overflowEvents: 1))
        #expect(ring.read(maxCount: 100) == ramp(12..<20))
    }

    @Test func aWriteLargerThanTheCapacityAlsoDropsEverythingWaiting() {
        let ring = AudioRingBuffer(capacity: 8)
        ring.write(ramp(0..<5))
        #expect(ring.write(ramp(100..<110)) == 2 + 5)  // 2 of its own, 5 waiting
        #expect(ring.statistics == .init(fill: 8, capacity: 8, written: 15, droppedSamples: 7, overflowEvents: 1))
        #expect(ring.read(maxCount: 100) == ramp(102..<110))
    }

    @Test func readingMakesRoomSoTheNextWriteDropsNothing() {
        let ring = AudioRingBuffer(capacity: 8)
        ring.write(ramp(0..<8))
        #expect(ring.read(maxCount: 3) == ramp(0..<3))
        #expect(ring.write(ramp(8..<11)) == 0)
        #expect(ring.write(ramp(11..<12)) == 1)
        #expect(ring.read(maxCount: 100) == ramp(4..<12))
    }

    // MARK: Reads

    @Test func readsAcrossTheWrapPointReturnSamplesInOrder() {
        let ring = AudioRingBuffer(capacity: 8)  // storage holds 16: positions 14..<22 wrap
        ring.write(ramp(0..<6))
        #expect(ring.read(maxCount: 6) == ramp(0..<6))
        ring.write(ramp(6..<14))
        #expect(ring.read(maxCount: 8) == ramp(6..<14))
        ring.write(ramp(14..<22))                       // written across the wrap
        #expect(ring.read(maxCount: 8) == ramp(14..<22))  // read across the wrap in one go
        ring.write(ramp(22..<30))
        #expect(ring.read(maxCount: 5) == ramp(22..<27))  // and in two, the second one wrapping
        ring.write(ramp(30..<33))
        #expect(ring.read(maxCount: 6) == ramp(27..<33))
        // Overflow across the wrap: the oldest go, whatever their place in storage.
        ring.write(ramp(33..<45))
        #expect(ring.read(maxCount: 100) == ramp(37..<45))
    }

    @Test func emptyReadsReturnZero() {
        let ring = AudioRingBuffer(capacity: 8)
        var destination = [Int16](repeating: -1, count: 4)
        #expect(destination.withUnsafeMutableBufferPointer { ring.read(into: $0) } == 0)
        #expect(destination == [-1, -1, -1, -1])
        #expect(ring.read(maxCount: 10) == [])
        ring.write(ramp(0..<3))
        #expect(ring.read(maxCount: 0) == [])
        #expect(ring.read(maxCount: -3) == [])
        var nothing: [Int16] = []
        #expect(nothing.withUnsafeMutableBufferPointer { ring.read(into: $0) } == 0)
        #expect(ring.read(maxCount: 3) == ramp(0..<3))
        #expect(ring.read(maxCount: 3) == [])
        #expect(ring.fill == 0)
    }

    @Test func anEmptyWriteChangesNothing() {
        let ring = AudioRingBuffer(capacity: 4)
        ring.write(ramp(0..<4))
        #expect(ring.write([]) == 0)
        #expect(ring.statistics == .init(fill: 4, capacity: 4, written: 4, droppedSamples: 0, overflowEvents: 0))
    }

    @Test func readMaxCountReturnsAtMostWhatIsWaiting() {
        let ring = AudioRingBuffer(capacity: 8)
        ring.write(ramp(0..<5))
        #expect(ring.read(maxCount: 3) == ramp(0..<3))
        #expect(ring.read(maxCount: 10) == ramp(3..<5))
        #expect(ring.read(maxCount: 1) == [])
    }

    @Test func readIntoFillsOnlyTheFrontOfTheDestination() {
        let ring = AudioRingBuffer(capacity: 8)
        ring.write(ramp(0..<3))
        var destination = [Int16](repeating: -1, count: 5)
        #expect(destination.withUnsafeMutableBufferPointer { ring.read(into: $0) } == 3)
        #expect(destination == [0, 1, 2, -1, -1])
    }

    /// Random traffic against a plain array that drops its oldest: same samples out, same counters.
    @Test func randomTrafficMatchesASimpleDropOldestModel() {
        let capacity = 16
        let ring = AudioRingBuffer(capacity: capacity)
        var model: [Int16] = []
        var next = 0, written = 0, dropped = 0, overflows = 0, read = 0
        var rng = SplitMix64(seed: 42)
        for _ in 0..<5_000 {
            if Bool.random(using: &rng) {
                let count = Int.random(in: 0...(capacity * 2), using: &rng)
                let samples = ramp(next..<next + count)
                next += count
                model += samples
                let excess = max(0, model.count - capacity)
                model.removeFirst(excess)
                written += count
                dropped += excess
                if excess > 0 { overflows += 1 }
                #expect(ring.write(samples) == excess)
            } else {
                let maxCount = Int.random(in: 0...(capacity + 4), using: &rng)
                let expected = Array(model.prefix(max(0, maxCount)))
                model.removeFirst(expected.count)
                read += expected.count
                #expect(ring.read(maxCount: maxCount) == expected)
            }
            let statistics = ring.statistics
            #expect(statistics == .init(fill: model.count, capacity: capacity, written: written, droppedSamples: dropped, overflowEvents: overflows))
            #expect(statistics.written == read + statistics.droppedSamples + statistics.fill)
        }
    }

    // MARK: One producer thread, one consumer thread

    /// A producer thread writes the sequence 0, 1, 2, ... (as 15-bit values) in chunks of 1 to 400
    /// samples, now and then more than the ring holds; a consumer thread reads it in chunks of 1 to
    /// 1500. What the consumer sees must be the sequence in order with gaps only, and the gaps must
    /// add up to the drop counter.
    @Test func concurrentProducerAndConsumerSeeTheSequenceInOrderWithOnlyCountedGaps() async {
        let shared = StressShared(ring: AudioRingBuffer(capacity: 1024), total: 3_000_000)
        async let produced: Bool = onNewThread("ring-producer") { shared.produce(seed: 7) }
        async let report: StressReport = onNewThread("ring-consumer") { shared.consume(seed: 11) }
        let (producerFinished, consumed) = await (produced, report)

        #expect(producerFinished, "the producer stalled: the consumer stopped publishing progress")
        #expect(consumed.problems == [])
        let statistics = shared.ring.statistics
        #expect(statistics.written == shared.total)
        #expect(consumed.gaps == statistics.droppedSamples)
        #expect(consumed.read + statistics.droppedSamples + statistics.fill == statistics.written)
        #expect(statistics.fill == 0)
        #expect(statistics.overflowEvents > 0, "a 1024-sample ring should overflow in this test")
        #expect(consumed.read > 0)
    }
}

/// Runs `body` on a new thread (a real one: the ring's sides are threads, not tasks) and
/// returns its result without blocking the caller's executor.
fileprivate func onNewThread<T: Sendable>(_ name: String, _ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        let thread = Thread { continuation.resume(returning: body()) }
        thread.name = name
        thread.start()
    }
}

fileprivate struct StressReport: Sendable {
    var read = 0
    /// Samples between consecutive samples read (and after the last one): those dropped.
    var gaps = 0
    var problems: [String] = []
}

/// The ring and what the two threads of the stress test tell each other besides it.
///
/// Samples carry 15 bits of their index. The consumer rebuilds the full index from the smallest
/// index it may still see (`floor`), which is exact as long as the producer stays less than half the
/// 15-bit range ahead of that floor; so the producer waits (yielding, no sleep) when it would get
/// further ahead. The other half of the range catches a sample that comes out of order: it rebuilds
/// to an index at least half the range above the floor, which is impossible.
fileprivate final class StressShared: Sendable {
    static let window = 1 << 14
    static let maxChunk = 3_000

    let ring: AudioRingBuffer
    let total: Int
    /// Every sample the consumer reads from now on has at least this index.
    let floor = Atomic<Int>(0)
    /// Samples below this index have been passed to `write` and it has returned.
    let completed = Atomic<Int>(0)
    /// Samples below this index have been or are being passed to `write`.
    let started = Atomic<Int>(0)
    let finished = Atomic<Bool>(false)
    /// `pattern[(i & 0x7fff)...]` holds the samples of indices `i, i + 1, ...` (up to `maxChunk` of them).
    let pattern: [Int16] = (0..<(0x8000 + StressShared.maxChunk)).map { Int16($0 & 0x7fff) }

    init(ring: AudioRingBuffer, total: Int) {
        self.ring = ring
        self.total = total
    }

    /// Writes every index below `total`; false if it had to give up waiting for the consumer.
    func produce(seed: UInt64) -> Bool {
        defer { finished.store(true, ordering: .releasing) }
        var rng = SplitMix64(seed: seed)
        var next = 0
        return pattern.withUnsafeBufferPointer { pattern in
            while next < total {
                var count = Int.random(in: 1...400, using: &rng)
                if rng.next() % 64 == 0 { count = Int.random(in: 1025...Self.maxChunk, using: &rng) }
                count = min(count, total - next)
                var spins = 0
                while next + count - floor.load(ordering: .acquiring) >= Self.window {
                    spins += 1
                    if spins > 50_000_000 { return false }  // bounded: a stuck consumer fails the test
                    sched_yield()
                }
                started.store(next + count, ordering: .releasing)
                let offset = next & 0x7fff
                ring.write(UnsafeBufferPointer(rebasing: pattern[offset..<offset + count]))
                next += count
                completed.store(next, ordering: .releasing)
            }
            return true
        }
    }

    /// Reads until the producer has finished and the ring is empty.
    func consume(seed: UInt64) -> StressReport {
        var report = StressReport()
        var rng = SplitMix64(seed: seed)
        var last = -1   // index of the last sample read
        var lowest = 0  // the floor
        var destination = [Int16](repeating: 0, count: 1_500)
        destination.withUnsafeMutableBufferPointer { destination in
            while report.problems.count < 5 {
                let done = finished.load(ordering: .acquiring)
                let writtenBefore = completed.load(ordering: .acquiring)
                let wanted = Int.random(in: 1...destination.count, using: &rng)
                let count = ring.read(into: UnsafeMutableBufferPointer(rebasing: destination[0..<wanted]))
                if count == 0 {
                    if done { break }
                    // Empty although `writtenBefore` samples had been written: all of them are gone.
                    if writtenBefore > lowest {
                        lowest = writtenBefore
                        floor.store(lowest, ordering: .releasing)
                    }
                    continue
                }
                let newest = started.load(ordering: .acquiring)
                for sample in destination[0..<count] {
                    let index = lowest + ((Int(sample) - lowest) & 0x7fff)
                    if sample < 0 || index - lowest >= Self.window || index >= newest {
                        report.problems.append("sample \(sample) after index \(last) is out of order (floor \(lowest), newest \(newest))")
                        break
                    }
                    report.gaps += index - last - 1
                    last = index
                    lowest = index + 1
                }
                report.read += count
                floor.store(lowest, ordering: .releasing)
            }
        }
        floor.store(Int.max / 2, ordering: .releasing)  // never leave the producer waiting
        report.gaps += total - last - 1  // the newest samples, never read, were dropped too
        return report
    }
}
