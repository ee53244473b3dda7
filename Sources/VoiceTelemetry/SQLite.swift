import CSQLite

/// A failed SQLite call: the (extended) result code, SQLite's message and what we were doing.
public struct SQLiteError: Error, Equatable, CustomStringConvertible {
    /// The extended result code (`SQLITE_BUSY`, `SQLITE_CONSTRAINT_UNIQUE`, ...).
    public var code: Int32
    public var message: String
    /// The call or statement that failed.
    public var operation: String

    public var description: String { "SQLite error \(code) in \(operation): \(message)" }

    /// The primary result code (the low byte of the extended code).
    public var primaryCode: Int32 { code & 0xFF }
}

// SQLITE_TRANSIENT is a macro cast SQLite's headers do not export to Swift: it tells
// sqlite3_bind_text to copy the bytes before returning.
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// One SQLite connection. Not thread-safe: one owner uses it from one thread at a time.
final class SQLiteDatabase {
    let handle: OpaquePointer
    let path: String

    /// Opens (creating if needed) the database at `path`.
    init(path: String, readOnly: Bool = false) throws {
        var db: OpaquePointer?
        let flags = readOnly
            ? SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX
            : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(db)
            throw SQLiteError(code: rc, message: message, operation: "open \(path)")
        }
        handle = db
        self.path = path
        sqlite3_extended_result_codes(db, 1)
    }

    deinit { sqlite3_close_v2(handle) }

    /// The one place a return code becomes an error: anything but the `accepted` codes throws.
    @discardableResult
    func check(_ rc: Int32, _ operation: @autoclosure () -> String, accepted: Set<Int32> = [SQLITE_OK]) throws -> Int32 {
        if accepted.contains(rc) { return rc }
        throw SQLiteError(code: rc, message: String(cString: sqlite3_errmsg(handle)), operation: operation())
    }

    /// Runs one or more statements that return no rows.
    func execute(_ sql: String) throws {
        try check(sqlite3_exec(handle, sql, nil, nil, nil), sql)
    }

    func prepare(_ sql: String) throws -> SQLiteStatement { try SQLiteStatement(database: self, sql: sql) }

    /// The first column of the first row of `sql` as an integer (nil with no row or NULL).
    func scalarInt(_ sql: String, _ bindings: [SQLiteValue] = []) throws -> Int64? {
        let statement = try prepare(sql)
        try statement.bind(bindings)
        guard try statement.step() else { return nil }
        return statement.isNull(0) ? nil : statement.int64(0)
    }

    /// Waits up to `milliseconds` for another connection's lock instead of failing with SQLITE_BUSY.
    func setBusyTimeout(milliseconds: Int32) throws {
        try check(sqlite3_busy_timeout(handle, milliseconds), "busy_timeout")
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    var changes: Int { Int(sqlite3_changes(handle)) }

    /// Runs `body` in a transaction (`BEGIN IMMEDIATE` takes the write lock up front, so a
    /// writer never fails half-way on a lock upgrade); commits if it returns, rolls back if it throws.
    func transaction<T>(immediate: Bool = true, _ body: () throws -> T) throws -> T {
        try execute(immediate ? "BEGIN IMMEDIATE" : "BEGIN")
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            // The transaction may already be gone (SQLite rolls back on some errors).
            if sqlite3_get_autocommit(handle) == 0 { _ = sqlite3_exec(handle, "ROLLBACK", nil, nil, nil) }
            throw error
        }
    }
}

/// A value to bind to a statement parameter.
enum SQLiteValue: Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
}

extension SQLiteValue {
    init(_ value: Int64?) { self = value.map { .integer($0) } ?? .null }
    init(_ value: String?) { self = value.map { .text($0) } ?? .null }
}

/// One prepared statement; finalized when released. Keeps its database open while it lives.
final class SQLiteStatement {
    let database: SQLiteDatabase
    let handle: OpaquePointer
    let sql: String

    init(database: SQLiteDatabase, sql: String) throws {
        var statement: OpaquePointer?
        try database.check(sqlite3_prepare_v2(database.handle, sql, -1, &statement, nil), "prepare \(sql)")
        guard let statement else {
            throw SQLiteError(code: SQLITE_MISUSE, message: "no statement in SQL", operation: "prepare \(sql)")
        }
        self.database = database
        self.handle = statement
        self.sql = sql
    }

    deinit { sqlite3_finalize(handle) }

    /// Resets the statement and binds `values` to parameters 1...n.
    func bind(_ values: [SQLiteValue]) throws {
        try database.check(sqlite3_reset(handle), "reset \(sql)")
        try database.check(sqlite3_clear_bindings(handle), "clear bindings \(sql)")
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let rc: Int32
            switch value {
            case .null: rc = sqlite3_bind_null(handle, index)
            case .integer(let v): rc = sqlite3_bind_int64(handle, index, v)
            case .real(let v): rc = sqlite3_bind_double(handle, index, v)
            case .text(let v): rc = sqlite3_bind_text(handle, index, v, -1, transient)
            }
            try database.check(rc, "bind \(index) of \(sql)")
        }
    }

    /// Steps once: true when a row is available, false when the statement is done.
    func step() throws -> Bool {
        let rc = try database.check(sqlite3_step(handle), sql, accepted: [SQLITE_ROW, SQLITE_DONE])
        return rc == SQLITE_ROW
    }

    /// Binds `values` and steps to completion (for statements that return no rows).
    func run(_ values: [SQLiteValue]) throws {
        try bind(values)
        while try step() {}
    }

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }
    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }
    func double(_ column: Int32) -> Double { sqlite3_column_double(handle, column) }
    func optionalInt64(_ column: Int32) -> Int64? { isNull(column) ? nil : int64(column) }

    /// The column as text ("" for NULL).
    func text(_ column: Int32) -> String {
        guard let bytes = sqlite3_column_text(handle, column) else { return "" }
        return String(cString: bytes)
    }

    func optionalText(_ column: Int32) -> String? { isNull(column) ? nil : text(column) }
}
