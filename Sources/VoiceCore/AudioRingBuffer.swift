import Synchronization

/// A fixed-capacity ring of 16-bit samples between one producer (the capture thread) and one
/// consumer, which drops the oldest audio when it overflows and counts every drop.
///
/// The producer never blocks and never allocates: ``write(_:)`` copies into preallocated storage
/// and publishes with atomics. Positions are monotonic sample counts; the fill is `head - tail`.
///
/// How overwriting stays free of data races: the consumer *claims* a range by moving `tail` past
/// it with a compare-and-swap, after announcing the claim's start in `claim`, and copies it out;
/// the producer drops the oldest audio by moving `tail` with a compare-and-swap too, so a sample
/// is taken by exactly one of them. Storage holds `capacity + slack` samples, so a claimed range
/// cannot be overwritten until the producer has dropped more than `slack` samples beyond it; in
/// that (pathological) case the producer sees the claim and drops the incoming samples instead,
/// counted as well.
public final class AudioRingBuffer: @unchecked Sendable {
    // @unchecked: `storage` is shared raw memory; every access to it is ordered by the atomics
    // below, as the type's documentation explains, and the stress test runs under TSan.

    /// Counters and fill level, readable from any thread.
    public struct Statistics: Equatable, Sendable, Codable {
        /// Samples waiting to be read.
        public var fill: Int
        /// The capacity in samples.
        public var capacity: Int
        /// Samples written since creation.
        public var written: Int
        /// Samples dropped because the ring was full.
        public var droppedSamples: Int
        /// Writes that had to drop samples.
        public var overflowEvents: Int

        public init(fill: Int, capacity: Int, written: Int, droppedSamples: Int, overflowEvents: Int) {
            self.fill = fill
            self.capacity = capacity
            self.written = written
            self.droppedSamples = droppedSamples
            self.overflowEvents = overflowEvents
        }

        /// The fill as a fraction of the capacity.
        public var fillRatio: Double { capacity == 0 ? 0 : Double(fill) / Double(capacity) }
    }

    /// The default capacity: 10 s of 16 kHz mono (320,000 bytes).
    public static let defaultCapacity = 160_000

    /// How many samples the ring holds.
    public let capacity: Int
    private let slack: Int
    private let storageCount: Int
    private let storage: UnsafeMutablePointer<Int16>

    private let head = Atomic<Int>(0)      // next position to write; written by the producer only
    private let tail = Atomic<Int>(0)      // oldest unread position; CAS by both sides
    private let claim = Atomic<Int>(-1)    // start of the range the consumer is copying, or -1
    private let dropped = Atomic<Int>(0)
    private let overflows = Atomic<Int>(0)

    /// Creates a ring of `capacity` samples (at least 1).
    public init(capacity: Int = AudioRingBuffer.defaultCapacity) {
        self.capacity = max(1, capacity)
        self.slack = self.capacity
        self.storageCount = self.capacity + slack
        self.storage = .allocate(capacity: storageCount)
        storage.initialize(repeating: 0, count: storageCount)
    }

    deinit { storage.deallocate() }

    /// Producer: appends `samples`, dropping the oldest audio if the ring is full.
    /// Returns how many samples were dropped by this call. Never blocks, never allocates.
    @discardableResult
    public func write(_ samples: UnsafeBufferPointer<Int16>) -> Int {
        guard var source = samples.baseAddress, samples.count > 0 else { return 0 }
        var count = samples.count
        var droppedNow = 0
        if count > capacity {  // only the newest `capacity` samples can fit
            droppedNow += count - capacity
            source += count - capacity
            count = capacity
        }
        let start = head.load(ordering: .relaxed)
        var end = start + count
        while true {
            let oldest = tail.load(ordering: .acquiring)
            let excess = end - oldest - capacity
            if excess <= 0 { break }
            if tail.compareExchange(expected: oldest, desired: oldest + excess, ordering: .sequentiallyConsistent).exchanged {
                droppedNow += excess
                break
            }
        }
        // Never overwrite a range the consumer is still copying (see the type's documentation).
        let claimed = claim.load(ordering: .sequentiallyConsistent)
        if claimed >= 0, end - storageCount > claimed {
            let writable = max(0, claimed + storageCount - start)
            droppedNow += end - (start + writable)
            end = start + writable
        }
        copyIn(from: source, at: start, count: end - start)
        head.store(end, ordering: .releasing)
        if droppedNow > 0 {
            dropped.add(droppedNow, ordering: .relaxed)
            overflows.add(1, ordering: .relaxed)
        }
        written.add(samples.count, ordering: .relaxed)
        return droppedNow
    }

    /// Consumer: moves up to `destination.count` of the oldest samples into `destination`.
    /// Returns how many were read (0 when empty).
    public func read(into destination: UnsafeMutableBufferPointer<Int16>) -> Int {
        guard let target = destination.baseAddress, destination.count > 0 else { return 0 }
        while true {
            let oldest = tail.load(ordering: .acquiring)
            let newest = head.load(ordering: .acquiring)
            let count = min(destination.count, newest - oldest)
            if count <= 0 { return 0 }
            claim.store(oldest, ordering: .sequentiallyConsistent)
            if tail.compareExchange(expected: oldest, desired: oldest + count, ordering: .sequentiallyConsistent).exchanged {
                copyOut(to: target, at: oldest, count: count)
                claim.store(-1, ordering: .releasing)
                return count
            }
            claim.store(-1, ordering: .releasing)  // the producer dropped what we wanted; try again
        }
    }

    /// Samples waiting to be read.
    public var fill: Int { max(0, head.load(ordering: .acquiring) - tail.load(ordering: .acquiring)) }

    /// The counters and the fill level.
    public var statistics: Statistics {
        Statistics(
            fill: fill, capacity: capacity, written: written.load(ordering: .relaxed),
            droppedSamples: dropped.load(ordering: .relaxed), overflowEvents: overflows.load(ordering: .relaxed)
        )
    }

    private let written = Atomic<Int>(0)

    private func copyIn(from source: UnsafePointer<Int16>, at position: Int, count: Int) {
        guard count > 0 else { return }
        let offset = position % storageCount
        let first = min(count, storageCount - offset)
        (storage + offset).update(from: source, count: first)
        if first < count { storage.update(from: source + first, count: count - first) }
    }

    private func copyOut(to target: UnsafeMutablePointer<Int16>, at position: Int, count: Int) {
        let offset = position % storageCount
        let first = min(count, storageCount - offset)
        target.update(from: storage + offset, count: first)
        if first < count { (target + first).update(from: storage, count: count - first) }
    }
}

extension AudioRingBuffer {
    /// Producer convenience for arrays (allocates nothing beyond the caller's array).
    @discardableResult
    public func write(_ samples: [Int16]) -> Int { samples.withUnsafeBufferPointer { write($0) } }

    /// Consumer convenience: reads up to `maxCount` samples into a new array.
    public func read(maxCount: Int) -> [Int16] {
        guard maxCount > 0 else { return [] }
        var out = [Int16](repeating: 0, count: maxCount)
        let n = out.withUnsafeMutableBufferPointer { read(into: $0) }
        out.removeLast(maxCount - n)
        return out
    }
}
