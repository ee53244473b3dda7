/// Runs timers on a real clock: each scheduled action waits in its own task until its deadline.
///
/// The controller's tickets make a stale timer harmless (a superseded debounce fires into a
/// ticket that no longer matches), so nothing here needs cancelling.
public final class TaskTimerScheduler: TimerScheduler, Sendable {
    private let clock: any VoiceClock

    public init(clock: any VoiceClock) { self.clock = clock }

    public func schedule(at instant: VoiceInstant, _ action: @escaping @Sendable () -> Void) {
        let clock = self.clock
        Task {
            do {
                try await clock.sleep(until: instant)
            } catch {
                return  // cancelled: the daemon is stopping
            }
            action()
        }
    }
}
