import FoundationEssentials

/// Where the sync uploads batches. Used by one thread at a time.
public protocol TelemetryUpstream: AnyObject {
    /// Uploads `batch` in one upstream transaction and returns only after it committed.
    /// Uploading rows that are already there changes nothing (idempotent on device and row id).
    func upload(_ batch: SyncBatch) throws
    /// Drops the connection, if any (after an error, and at shutdown).
    func disconnect()
}

/// How to reach the central Postgres.
public struct PostgresUpstreamConfiguration: Sendable, Equatable {
    /// A libpq URL or connection string, e.g. `postgresql://device_kitchen@db.example.net/voiced`.
    /// Its own `sslmode` / `sslrootcert` override the two settings below.
    public var url: String
    /// libpq's `sslmode`: `verify-full` checks the certificate chain and the host name.
    public var sslMode = "verify-full"
    /// The root certificate(s) to trust, PEM (nil: libpq's default, `~/.postgresql/root.crt`).
    public var rootCertificatePath: String? = "/etc/ssl/certs/ca-certificates.crt"
    /// The systemd credential holding the password (`LoadCredential=` in the unit); nil for none.
    public var passwordCredential: String? = "postgres_password"
    /// Seconds to wait for a connection before counting the server unreachable.
    public var connectTimeoutSeconds = 10
    /// Milliseconds a statement may run before the server cancels it.
    public var statementTimeoutMs = 60_000

    public init(url: String) { self.url = url }

    /// The libpq keywords, in the order that makes the URL override our defaults and the
    /// credential override the URL's password.
    public func connectionParameters(environment: [String: String] = ProcessInfo.processInfo.environment) throws
        -> [(String, String)]
    {
        var parameters: [(String, String)] = [
            ("sslmode", sslMode),
            ("connect_timeout", String(connectTimeoutSeconds)),
            ("application_name", "voiced"),
            ("keepalives", "1"),
            ("keepalives_idle", "30"),
            ("keepalives_interval", "10"),
            ("keepalives_count", "3"),
            // A dead link fails an upload in a minute instead of hanging the sync.
            ("tcp_user_timeout", "60000"),
            ("options", "-c statement_timeout=\(statementTimeoutMs)"),
        ]
        if let rootCertificatePath { parameters.append(("sslrootcert", rootCertificatePath)) }
        parameters.append(("dbname", url))
        if let name = passwordCredential, let password = try SystemdCredentials.read(name, environment: environment) {
            parameters.append(("password", password))
        }
        return parameters
    }
}

/// Secrets handed to the service by systemd (`LoadCredential=` / `SetCredentialEncrypted=`):
/// files in `$CREDENTIALS_DIRECTORY`, readable only by the service.
public enum SystemdCredentials {
    /// The credential `name`, without a trailing newline; nil when there is no credentials
    /// directory or no such credential.
    public static func read(_ name: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws
        -> String?
    {
        guard let directory = environment["CREDENTIALS_DIRECTORY"], !directory.isEmpty else { return nil }
        guard !name.contains("/") else { throw TelemetrySyncError.badCredentialName(name) }
        let path = directory + "/" + name
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard var text = String(data: data, encoding: .utf8) else { throw TelemetrySyncError.badCredentialName(name) }
        while text.hasSuffix("\n") || text.hasSuffix("\r") { text.removeLast() }
        return text
    }
}

public enum TelemetrySyncError: Error, Equatable {
    /// A credential name with a slash, or a credential that is not UTF-8.
    case badCredentialName(String)
    /// The server answered the ingest call with something else than a row count.
    case unexpectedReply(String)
}

/// The central Postgres, through libpq: one connection, kept open between batches.
///
/// A batch goes up as four JSON arrays (one per table) to `voiced.ingest`, a SECURITY DEFINER function
/// that takes the device from the login role, so the device role needs no privilege on any
/// table (see db/migrations). The call is a single statement, hence its own transaction:
/// when it returns, the batch is committed.
public final class PostgresUpstream: TelemetryUpstream {
    public let configuration: PostgresUpstreamConfiguration
    private var connection: PostgresConnection?

    public init(configuration: PostgresUpstreamConfiguration) { self.configuration = configuration }

    public func upload(_ batch: SyncBatch) throws {
        guard !batch.isEmpty else { return }
        let connection = try connected()
        do {
            let payload = UpstreamPayload.arrays(batch)
            let result = try connection.execute("SELECT voiced.ingest($1::json, $2::json, $3::json, $4::json)",
                                                [payload.sessions, payload.turns, payload.llmCalls, payload.telemetry])
            guard result.value(0, 0).flatMap(Int.init) != nil else {
                throw TelemetrySyncError.unexpectedReply(result.value(0, 0) ?? "no row")
            }
        } catch {
            disconnect()
            throw error
        }
    }

    public func disconnect() { connection = nil }

    private func connected() throws -> PostgresConnection {
        if let connection, connection.isOK { return connection }
        connection = nil
        let fresh = try PostgresConnection(parameters: try configuration.connectionParameters())
        connection = fresh
        return fresh
    }
}

/// The JSON arrays of one batch, one per table, as `voiced.ingest` reads them. (Four arguments,
/// not one document: the server would otherwise lex the whole document again for each table.)
enum UpstreamPayload {
    struct Arrays: Equatable {
        var sessions: String
        var turns: String
        var llmCalls: String
        var telemetry: String
    }

    static func arrays(_ batch: SyncBatch) -> Arrays {
        var sessions = "["
        for (i, s) in batch.sessions.enumerated() {
            if i > 0 { sessions += "," }
            sessions += "{\"id\":\(JSONText.string(s.id)),\"seq\":\(s.seq),\"label\":\(JSONText.string(s.label)),"
            sessions += "\"started_ms\":\(s.startedAt),\"ended_ms\":\(JSONText.number(s.endedAt)),\"total_turns\":\(s.totalTurns),"
            sessions += "\"status\":\(JSONText.string(s.status))}"
        }
        var turns = "["
        turns.reserveCapacity(batch.turns.count * 400)
        for (i, t) in batch.turns.enumerated() {
            if i > 0 { turns += "," }
            turns += "{\"id\":\(JSONText.string(t.id)),\"seq\":\(t.seq),\"session_id\":\(JSONText.string(t.sessionID)),"
            turns += "\"turn_number\":\(t.turnNumber),\"user_text\":\(JSONText.string(t.userText)),"
            turns += "\"spoken_text\":\(JSONText.string(t.spokenText)),\"states\":\(t.statesJSON),\"started_ms\":\(t.startedAt),"
            turns += "\"completed_ms\":\(JSONText.number(t.completedAt)),\"interrupted\":\(t.interrupted),"
            turns += "\"status\":\(JSONText.string(t.status)),\"latency_ms\":\(JSONText.number(t.latencyMs)),"
            turns += "\"debounce_ms\":\(t.debounceMs),\"latencies\":\(t.latenciesJSON)}"
        }
        var calls = "["
        calls.reserveCapacity(batch.llmCalls.count * 250)
        for (i, c) in batch.llmCalls.enumerated() {
            if i > 0 { calls += "," }
            calls += "{\"id\":\(JSONText.string(c.id)),\"seq\":\(c.seq),\"turn_id\":\(JSONText.string(c.turnID)),"
            calls += "\"call_number\":\(c.callNumber),\"status\":\(JSONText.string(c.status)),"
            calls += "\"reason\":\(JSONText.string(c.reason)),\"tokens\":\(c.tokens),"
            calls += "\"prompt_tokens\":\(JSONText.number(c.promptTokens)),\"latency_ms\":\(JSONText.number(c.latencyMs)),"
            calls += "\"first_token_ms\":\(JSONText.number(c.firstTokenMs)),\"created_ms\":\(c.createdAt)}"
        }
        var samples = "["
        samples.reserveCapacity(batch.samples.count * 150)
        for (i, s) in batch.samples.enumerated() {
            if i > 0 { samples += "," }
            samples += "{\"id\":\(JSONText.string(s.id)),\"seq\":\(s.seq),\"session_id\":\(JSONText.string(s.sessionID)),"
            samples += "\"name\":\(JSONText.string(s.name)),\"value\":\(JSONText.number(s.value)),\"recorded_ms\":\(s.recordedAt)}"
        }
        return Arrays(sessions: sessions + "]", turns: turns + "]", llmCalls: calls + "]", telemetry: samples + "]")
    }
}
