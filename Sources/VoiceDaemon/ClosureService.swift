import ServiceLifecycle

/// A service made of a closure, for the daemon's small loops.
public struct ClosureService: Service, CustomStringConvertible {
    public let description: String
    private let body: @Sendable () async throws -> Void

    public init(_ name: String, _ body: @escaping @Sendable () async throws -> Void) {
        description = name
        self.body = body
    }

    public func run() async throws { try await body() }
}

/// Runs `body` until the service group shuts down gracefully (the body's task is then
/// cancelled, and the cancellation that ends it is the normal end, not a failure).
public func untilShutdown(_ body: @escaping @Sendable () async throws -> Void) async throws {
    do {
        try await cancelWhenGracefulShutdown { try await body() }
    } catch is CancellationError {
        return
    }
}
