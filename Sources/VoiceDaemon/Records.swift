import FoundationEssentials
import Logging
import ServiceLifecycle
import VoiceCore
import VoiceTelemetry

/// Telemetry: the SQLite writer (which also remembers the adaptive debounce across restarts) and,
/// with a Postgres URL, the upstream sync. From [telemetry].
struct Records: Sendable {
    let writer: TelemetryWriter
    let sync: TelemetrySync?

    static func build(_ config: VoicedConfig, clock: any VoiceClock, errors: ErrorFanout,
                      logger: Logger) throws(DaemonError) -> Records {
        var writerConfiguration = TelemetryWriterConfiguration(databasePath: config.telemetry.database)
        writerConfiguration.sizeLimitBytes = Int64(config.telemetry.maxSizeMiB) << 20
        let writer: TelemetryWriter
        do {
            try FileManager.default.createDirectory(atPath: PathText.directory(of: config.telemetry.database),
                                                    withIntermediateDirectories: true)
            writer = try TelemetryWriter(configuration: writerConfiguration, origin: Date(),
                                         logger: logger.with(label: "voiced.telemetry"))
        } catch {
            throw DaemonError("cannot open the telemetry store \(config.telemetry.database): \(error)")
        }
        var sync: TelemetrySync?
        if !config.telemetry.postgresURL.isEmpty {
            var postgres = PostgresUpstreamConfiguration(url: config.telemetry.postgresURL)
            if !config.telemetry.postgresRootCertificate.isEmpty { postgres.rootCertificatePath = config.telemetry.postgresRootCertificate }
            do {
                let made = try TelemetrySync(configuration: TelemetrySyncConfiguration(databasePath: config.telemetry.database),
                                             postgres: postgres, clock: clock, logger: logger.with(label: "voiced.telemetry.sync"))
                made.onUploadFailure { message in errors.send(message) }
                sync = made
            } catch {
                throw DaemonError("cannot set up the telemetry sync: \(error)", configuration: true)
            }
        }
        return Records(writer: writer, sync: sync)
    }

    /// The writer as a service. Started first, stopped last: it flushes after everything else has
    /// stopped. The turn under way (aborted) and the session's end are queued before its last write.
    func service(sessionID: String, turns: TurnService, clock: any VoiceClock) -> ClosureService {
        let writer = self.writer
        return ClosureService {
            writer.start()
            try? await gracefulShutdown()
            turns.shutdown(cause: Task.isCancelled ? .fatalError : .shutdown)
            writer.sessionEnded(sessionID, at: clock.now)
            await writer.stop()
        }
    }
}
