import ServiceLifecycle

/// Runs `body` until the service group shuts down gracefully (the body's task is then
/// cancelled, and the cancellation that ends it is the normal end, not a failure).
public func untilShutdown(_ body: @escaping @Sendable () async throws -> Void) async throws {
    do {
        try await cancelWhenGracefulShutdown { try await body() }
    } catch is CancellationError {
        return
    }
}
