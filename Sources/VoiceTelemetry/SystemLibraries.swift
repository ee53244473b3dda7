import CSQLite

/// Versions of the libraries the telemetry store links, for `voiced --version`.
public enum TelemetryLibraries {
    /// The SQLite library version, e.g. `3.40.1`.
    public static var sqliteVersion: String { String(cString: sqlite3_libversion()) }
}
