// The seam between the LED and button logic and the GPIO hardware: libgpiod on the speaker, a
// fake in tests (Tests/VoiceLinuxTests/GPIOFakeBackend.swift). The fake's edge source is a real
// fd, so the button's reading thread and its poll() run unchanged against it.

/// Output lines driven by physical level (true = high), addressed by their index in the request.
public protocol GPIOOutputLines: AnyObject {
    /// How many lines were requested.
    var count: Int { get }
    /// Drives line `index` high (true) or low.
    func set(_ index: Int, high: Bool) throws(GPIOError)
}

/// An input line that reports its edges through a file descriptor.
public protocol GPIOEdgeSource: AnyObject {
    /// Polls readable (POLLIN) when edges are queued.
    var fileDescriptor: Int32 { get }
    /// The line's level now (true = high).
    func level() throws(GPIOError) -> Bool
    /// Reads the queued edges, oldest first. Called only when ``fileDescriptor`` polls readable.
    func readEdges() throws(GPIOError) -> [GPIOEdge]
}

/// Opens GPIO lines.
public protocol GPIOLineBackend: Sendable {
    /// Requests `offsets` of `chip` as outputs, each driven at its initial level from the start.
    func openOutputs(chip: String, offsets: [UInt32], consumer: String, initialLevels: [Bool]) throws(GPIOError) -> any GPIOOutputLines
    /// Requests `offset` of `chip` as an input reporting both edges.
    func openEdgeSource(chip: String, offset: UInt32, consumer: String, bias: GPIOBias) throws(GPIOError) -> any GPIOEdgeSource
}

/// GPIO through libgpiod v1 on `/dev/gpiochipN`.
public struct LibgpiodBackend: GPIOLineBackend {
    /// The libgpiod backend (it holds nothing: each open opens its own chip handle).
    public init() {}

    public func openOutputs(chip: String, offsets: [UInt32], consumer: String, initialLevels: [Bool]) throws(GPIOError) -> any GPIOOutputLines {
        let handle = try GPIOChip(chip)
        var lines: [GPIOOutputLine] = []
        for (index, offset) in offsets.enumerated() {
            let level = index < initialLevels.count ? initialLevels[index] : false
            lines.append(try GPIOOutputLine(chip: handle, offset: offset, consumer: consumer, initialLevel: level))
        }
        return LibgpiodOutputLines(lines: lines)
    }

    public func openEdgeSource(chip: String, offset: UInt32, consumer: String, bias: GPIOBias) throws(GPIOError) -> any GPIOEdgeSource {
        LibgpiodEdgeSource(line: try GPIOEventLine(chip: try GPIOChip(chip), offset: offset, consumer: consumer, bias: bias))
    }
}

final class LibgpiodOutputLines: GPIOOutputLines {
    private let lines: [GPIOOutputLine]
    init(lines: [GPIOOutputLine]) { self.lines = lines }
    var count: Int { lines.count }
    func set(_ index: Int, high: Bool) throws(GPIOError) {
        guard lines.indices.contains(index) else { return }
        try lines[index].set(high: high)
    }
}

final class LibgpiodEdgeSource: GPIOEdgeSource {
    private let line: GPIOEventLine
    init(line: GPIOEventLine) { self.line = line }
    var fileDescriptor: Int32 { line.fileDescriptor }
    func level() throws(GPIOError) -> Bool { try line.level() }
    func readEdges() throws(GPIOError) -> [GPIOEdge] { try line.readEvents() }
}
