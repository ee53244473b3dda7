import Foundation
import Logging
import Synchronization
import Testing
@testable import VoiceLinux

@Suite struct JournalLogHandlerTests {
    // MARK: the field list (pure)

    @Test func aCompletedTurnHasEveryField() {
        let fields = JournalLogHandler.fields(
            level: .info, message: "turn completed",
            metadata: ["event": "turn_completed", "turn": "42", "session": "s-7", "state": "idle", "latency_ms": .stringConvertible(830)],
            label: "voiced.turn", file: "VoiceCore/TurnEngine.swift", function: "finish()", line: 120
        )
        #expect(fields == [
            JournalField("MESSAGE", "turn completed event=turn_completed latency_ms=830 session=s-7 state=idle turn=42"),
            JournalField("PRIORITY", "6"),
            JournalField("SYSLOG_IDENTIFIER", "voiced"),
            JournalField("MESSAGE_ID", JournalMessageID.turnCompleted),
            JournalField("CODE_FILE", "VoiceCore/TurnEngine.swift"),
            JournalField("CODE_LINE", "120"),
            JournalField("CODE_FUNC", "finish()"),
            JournalField("LOGGER", "voiced.turn"),
            JournalField("EVENT", "turn_completed"),
            JournalField("LATENCY_MS", "830"),
            JournalField("SESSION_ID", "s-7"),
            JournalField("STATE", "idle"),
            JournalField("TURN_ID", "42"),
        ])
    }

    @Test(arguments: [
        ("turn_completed", JournalMessageID.turnCompleted),
        ("turn_interrupted", JournalMessageID.turnInterrupted),
        ("provider_error", JournalMessageID.providerError),
    ])
    func eachFilteredEventHasItsMessageID(event: String, id: String) {
        let fields = JournalLogHandler.fields(level: .warning, message: "m", metadata: ["event": .string(event)], label: "l", file: "f", function: "g", line: 1)
        #expect(fields.filter { $0.name == "MESSAGE_ID" } == [JournalField("MESSAGE_ID", id)])
    }

    @Test func theMessageIDsAreDistinct128BitHex() {
        let ids = [JournalMessageID.turnCompleted, JournalMessageID.turnInterrupted, JournalMessageID.providerError]
        #expect(Set(ids).count == 3)
        for id in ids {
            #expect(id.count == 32)
            #expect(id.allSatisfy { $0.isHexDigit && !$0.isUppercase })
        }
    }

    @Test func otherEntriesHaveNoMessageID() {
        let fields = JournalLogHandler.fields(level: .info, message: "m", metadata: ["event": "something_else"], label: "l", file: "f", function: "g", line: 1)
        #expect(!fields.contains { $0.name == "MESSAGE_ID" })
        #expect(fields.contains(JournalField("EVENT", "something_else")))
        let plain = JournalLogHandler.fields(level: .info, message: "m", metadata: [:], label: "l", file: "f", function: "g", line: 1)
        #expect(plain.map(\.name) == ["MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "CODE_FILE", "CODE_LINE", "CODE_FUNC", "LOGGER"])
        #expect(plain[0] == JournalField("MESSAGE", "m"))
    }

    @Test(arguments: [
        (Logger.Level.trace, 7), (.debug, 7), (.info, 6), (.notice, 5), (.warning, 4), (.error, 3), (.critical, 2),
    ])
    func levelsMapToSyslogPriorities(level: Logger.Level, priority: Int) {
        #expect(JournalLogHandler.priority(level) == priority)
    }

    @Test(arguments: [
        ("turn", "TURN_ID"), ("session", "SESSION_ID"), ("state", "STATE"), ("event", "EVENT"),
        ("latency_ms", "LATENCY_MS"), ("llm.model", "LLM_MODEL"), ("first-token", "FIRST_TOKEN"), ("_private", "PRIVATE"),
        ("__x", "X"), ("9lives", "F_9LIVES"), ("", "FIELD"), ("é", "FIELD"), ("message", "META_MESSAGE"),
        ("priority", "META_PRIORITY"), ("code_line", "META_CODE_LINE"), ("Turn_Id", "TURN_ID"),
    ])
    func metadataKeysBecomeValidJournalFieldNames(key: String, name: String) {
        #expect(JournalLogHandler.fieldName(forMetadataKey: key) == name)
    }

    @Test func longKeysAreCutToSixtyFourCharacters() {
        let name = JournalLogHandler.fieldName(forMetadataKey: String(repeating: "a", count: 100))
        #expect(name == String(repeating: "A", count: 64))
    }

    @Test func everyFieldNameIsOneJournaldAccepts() {
        // journald drops fields whose names break its rules: [A-Z0-9_], not starting with _ or a digit, ≤ 64.
        for key in ["turn", "x y", "ÄÖ", "1", "_", "a-b.c", String(repeating: "z", count: 80), "SYSLOG_IDENTIFIER"] {
            let name = JournalLogHandler.fieldName(forMetadataKey: key)
            #expect(!name.isEmpty && name.count <= 64)
            #expect(name.unicodeScalars.allSatisfy { ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" })
            #expect(name.first != "_" && !(name.first?.isNumber ?? true))
        }
    }

    @Test func valuesKeepNewlinesAndAnErrorIsAField() {
        struct Failure: Error, CustomStringConvertible { var description: String { "HTTP 500 from the LLM" } }
        let fields = JournalLogHandler.fields(
            level: .error, message: "provider failed", metadata: ["event": "provider_error", "body": "line 1\nline 2"], error: Failure(),
            label: "voiced.llm", file: "f", function: "g", line: 1
        )
        #expect(fields.contains(JournalField("BODY", "line 1\nline 2")))
        #expect(fields.contains(JournalField("ERROR", "HTTP 500 from the LLM")))
        #expect(fields.contains(JournalField("PRIORITY", "3")))
        #expect(fields[0] == JournalField("MESSAGE", "provider failed body=\"line 1\\nline 2\" event=provider_error"))
    }

    // MARK: the handler behind a Logger

    final class Captured: Sendable {
        let sent = Mutex<[[JournalField]]>([])
        let fallback = Mutex<[String]>([])
    }

    func logger(_ captured: Captured, result: Int32 = 0) -> Logger {
        var logger = Logger(label: "voiced.test") { label in
            JournalLogHandler(
                label: label,
                send: { fields in
                    captured.sent.withLock { $0.append(fields) }
                    return result
                },
                fallback: { line in captured.fallback.withLock { $0.append(line) } }
            )
        }
        logger.logLevel = .debug
        return logger
    }

    @Test func theHandlerSendsMergedMetadataAndFiltersByLevel() throws {
        let captured = Captured()
        var logger = logger(captured)
        logger[metadataKey: "session"] = "s-1"
        logger.trace("too fine")  // below debug: dropped by the Logger
        logger.info("turn interrupted", metadata: ["event": "turn_interrupted", "turn": "7", "session": "s-2"])
        let sent = captured.sent.withLock { $0 }
        #expect(sent.count == 1)
        let fields = try #require(sent.first)
        #expect(fields.contains(JournalField("MESSAGE_ID", JournalMessageID.turnInterrupted)))
        #expect(fields.contains(JournalField("SESSION_ID", "s-2")))  // the entry's metadata wins
        #expect(fields.contains(JournalField("TURN_ID", "7")))
        #expect(fields.contains(JournalField("LOGGER", "voiced.test")))
        #expect(fields.contains { $0.name == "CODE_FILE" && $0.value.hasSuffix("JournalLogHandlerTests.swift") })
        #expect(captured.fallback.withLock { $0 }.isEmpty)
    }

    @Test func whenJournaldCannotBeReachedTheLineGoesToStandardError() {
        let captured = Captured()
        logger(captured, result: -ENOENT).warning("xrun", metadata: ["frames": "160"])
        #expect(captured.fallback.withLock { $0 } == ["warning voiced.test: xrun frames=160"])
    }

    @Test func whatIsRealHereJournaldOrItsAbsence() throws {
        // The real sd_journal_sendv, with the real iovecs. On a machine running journald the entry
        // is sent and read back with journalctl. Without journald (CI containers, this build
        // machine) libsystemd drops it and still returns 0 ("fail silently if the journal is not
        // available"): the reason bootstrap picks journald only when JOURNAL_STREAM says systemd
        // is there, and what this branch pins down.
        let marker = String(UInt64.random(in: 1...UInt64.max), radix: 16)
        let fields = JournalLogHandler.fields(
            level: .notice, message: "journald round trip", metadata: ["voiced_test": .string(marker), "turn": "1"],
            label: "voiced.tests", file: #fileID, function: #function, line: #line
        )
        let result = JournalLogHandler.sendToJournal(fields)
        #expect(result == 0, "sd_journal_sendv returned \(result)")
        if FileManager.default.fileExists(atPath: "/run/systemd/journal/socket") {
            let found = readBack(marker: marker)
            #expect(found.contains("\"TURN_ID\":\"1\""), "journalctl did not return the entry: \(found)")
            #expect(found.contains("\"SYSLOG_IDENTIFIER\":\"voiced\""))
            #expect(found.contains("\"MESSAGE\":\"journald round trip turn=1 voiced_test=\(marker)\""))
        } else {
            #expect(ProcessInfo.processInfo.environment["JOURNAL_STREAM"] == nil)
            #expect(VoicedLogging.detectDestination() == .stderr)
        }
    }

    /// `journalctl VOICED_TEST=<marker> -o json`, retried briefly (journald writes asynchronously).
    func readBack(marker: String) -> String {
        for _ in 0..<50 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/journalctl")
            process.arguments = ["--no-pager", "-o", "json", "VOICED_TEST=\(marker)"]
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = FileHandle.nullDevice
            guard (try? process.run()) != nil else { return "journalctl cannot run" }
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            let text = String(decoding: data, as: UTF8.self)
            if !text.isEmpty { return text }
            usleep(100_000)
        }
        return ""
    }

    // MARK: stderr lines and the choice between them

    @Test func stderrLinesAreReadable() {
        let lines = Mutex<[String]>([])
        var logger = Logger(label: "voiced.gpio") { label in
            StderrLogHandler(label: label, timestamps: false, write: { line in lines.withLock { $0.append(line) } })
        }
        logger.logLevel = .info
        logger.info("button ready", metadata: ["chip": "gpiochip0", "line": "4"])
        logger.warning("odd", metadata: ["text": "two words", "empty": ""])
        logger.debug("hidden")
        #expect(lines.withLock { $0 } == [
            "info voiced.gpio: button ready chip=gpiochip0 line=4",
            "warning voiced.gpio: odd empty=\"\" text=\"two words\"",
        ])
    }

    @Test func timestampsAreLocalTimeWithMilliseconds() {
        let stamp = StderrLogHandler.localTimestamp()
        #expect(stamp.count == 23, "\(stamp)")
        #expect(stamp.dropFirst(10).first == "T")
        #expect(stamp.dropFirst(19).first == ".")
    }

    @Test func journaldIsChosenOnlyWhenJournalStreamNamesStandardError() {
        #expect(VoicedLogging.destination(journalStream: "8:12345", stderrDevice: 8, stderrInode: 12345) == .journal)
        #expect(VoicedLogging.destination(journalStream: nil, stderrDevice: 8, stderrInode: 12345) == .stderr)
        // Inherited by a child whose stderr was redirected: not ours.
        #expect(VoicedLogging.destination(journalStream: "8:12345", stderrDevice: 8, stderrInode: 999) == .stderr)
        #expect(VoicedLogging.destination(journalStream: "garbage", stderrDevice: 8, stderrInode: 12345) == .stderr)
        #expect(VoicedLogging.destination(journalStream: "8:12345", stderrDevice: nil, stderrInode: nil) == .stderr)
        // This test process is not under systemd.
        if ProcessInfo.processInfo.environment["JOURNAL_STREAM"] == nil {
            #expect(VoicedLogging.detectDestination() == .stderr)
        }
        #expect(VoicedLogging.makeHandler(label: "x", destination: .journal, level: .debug) is JournalLogHandler)
        #expect(VoicedLogging.makeHandler(label: "x", destination: .stderr, level: .debug).logLevel == .debug)
    }

    @Test func aSharedLevelChangesEveryLoggerAtOnce() {
        let shared = SharedLogLevel(.info)
        let lines = Mutex<[String]>([])
        func logger(_ label: String) -> Logger {
            Logger(label: label) { label in
                var handler = StderrLogHandler(label: label, timestamps: false, write: { line in lines.withLock { $0.append(line) } })
                handler.sharedLevel = shared
                return handler
            }
        }
        let first = logger("a"), second = logger("b")
        var copied = first
        copied[metadataKey: "k"] = "v"
        first.debug("hidden")
        shared.level = .debug
        first.debug("one")
        copied.debug("two")
        second.debug("three")
        shared.level = .warning
        second.info("hidden too")
        #expect(lines.withLock { $0 } == ["debug a: one", "debug a: two k=v", "debug b: three"])
        #expect(first.logLevel == .warning)
    }
}
