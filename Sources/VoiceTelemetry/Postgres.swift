import CLibPQ
import FoundationEssentials
import Glibc
import VoiceCore

/// A failed libpq call: a connection that could not be made or broke, or a statement the server refused.
public struct PostgresError: Error, Equatable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        /// No connection (server unreachable, TLS or authentication failure).
        case connection
        /// The server answered with an error (`sqlState` says which).
        case statement
    }

    public var kind: Kind
    public var message: String
    /// The five-character SQLSTATE, e.g. `42501` for insufficient privilege.
    public var sqlState: String?

    public var description: String {
        "PostgreSQL \(kind == .connection ? "connection" : "statement") error\(sqlState.map { " \($0)" } ?? ""): \(message)"
    }
}

/// One libpq connection, used by one thread at a time (libpq's blocking API).
public final class PostgresConnection {
    let handle: OpaquePointer

    /// Connects with libpq keyword/value `parameters`, processed in order: a later keyword
    /// overrides an earlier one, and a `dbname` holding a URL or connection string expands in place.
    public init(parameters: [(String, String)]) throws {
        let keywords = parameters.map { strdup($0.0) }
        let values = parameters.map { strdup($0.1) }
        defer {
            keywords.forEach { free($0) }
            values.forEach { free($0) }
        }
        var keywordPointers: [UnsafePointer<CChar>?] = keywords.map { UnsafePointer($0) } + [nil]
        var valuePointers: [UnsafePointer<CChar>?] = values.map { UnsafePointer($0) } + [nil]
        let connection = keywordPointers.withUnsafeMutableBufferPointer { k in
            valuePointers.withUnsafeMutableBufferPointer { v in
                PQconnectdbParams(k.baseAddress, v.baseAddress, 1)
            }
        }
        guard let connection else {
            throw PostgresError(kind: .connection, message: "out of memory", sqlState: nil)
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = Self.trimmed(PQerrorMessage(connection))
            PQfinish(connection)
            throw PostgresError(kind: .connection, message: message, sqlState: nil)
        }
        handle = connection
    }

    /// Connects to a URL or connection string.
    public convenience init(url: String) throws { try self.init(parameters: [("dbname", url)]) }

    deinit { PQfinish(handle) }

    /// Whether the connection is still usable.
    public var isOK: Bool { PQstatus(handle) == CONNECTION_OK }

    /// Runs one statement with text parameters (`$1`, `$2`, ...; nil is NULL) and returns its rows.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [String?] = []) throws -> PostgresResult {
        let copies = parameters.map { $0.map { strdup($0) } ?? nil }
        defer { copies.forEach { free($0) } }
        var pointers: [UnsafePointer<CChar>?] = copies.map { $0.map { UnsafePointer($0) } }
        let result = pointers.withUnsafeMutableBufferPointer { buffer in
            PQexecParams(handle, sql, Int32(buffer.count), nil, buffer.baseAddress, nil, nil, 0)
        }
        return try check(result)
    }

    /// Runs statements without parameters (several may be separated by semicolons).
    public func executeScript(_ sql: String) throws {
        try check(PQexec(handle, sql))
    }

    /// The one place a result becomes an error.
    @discardableResult
    private func check(_ result: OpaquePointer?) throws -> PostgresResult {
        guard let result else {
            // No result at all: the connection is gone (or out of memory).
            throw PostgresError(kind: .connection, message: Self.trimmed(PQerrorMessage(handle)), sqlState: nil)
        }
        let wrapped = PostgresResult(handle: result)
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return wrapped
        default:
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            let message = Self.trimmed(PQresultErrorMessage(result))
            let kind: PostgresError.Kind = isOK ? .statement : .connection
            throw PostgresError(kind: kind, message: message.isEmpty ? Self.trimmed(PQerrorMessage(handle)) : message,
                                sqlState: state)
        }
    }

    private static func trimmed(_ message: UnsafePointer<CChar>?) -> String {
        guard let message else { return "" }
        return String(cString: message).trimmingWhitespacesAndNewlines()
    }
}

/// The rows of one statement, as text; freed when released.
public final class PostgresResult {
    let handle: OpaquePointer

    init(handle: OpaquePointer) { self.handle = handle }
    deinit { PQclear(handle) }

    public var rowCount: Int { Int(PQntuples(handle)) }
    public var columnCount: Int { Int(PQnfields(handle)) }

    /// The value at `row`, `column` as text, nil for NULL (or out of range).
    public func value(_ row: Int, _ column: Int) -> String? {
        guard row >= 0, row < rowCount, column >= 0, column < columnCount else { return nil }
        guard PQgetisnull(handle, Int32(row), Int32(column)) == 0 else { return nil }
        return String(cString: PQgetvalue(handle, Int32(row), Int32(column)))
    }

    /// Every value of the first column (NULLs left out).
    public var firstColumn: [String] { (0..<rowCount).compactMap { value($0, 0) } }
}
