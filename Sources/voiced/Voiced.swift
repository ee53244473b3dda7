import ArgumentParser
import FoundationEssentials
import Glibc
import Logging
import VoiceDaemon
import VoiceCore
import VoiceLinux
import VoiceProviders
import VoiceSupport
import VoiceTelemetry

@main
struct Voiced: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "voiced",
        abstract: "The voice assistant daemon of the voiced smart speaker.",
        version: VoicedVersion.string,
        subcommands: [Run.self, Simulate.self, PrintDefaultConfig.self],
        defaultSubcommand: Run.self
    )
}

enum VoicedVersion {
    static let number = "0.1.0"
    static var string: String {
        """
        voiced \(number)
          alsa \(LinuxLibraries.alsaVersion), libgpiod \(LinuxLibraries.gpiodVersion), \
        sqlite \(TelemetryLibraries.sqliteVersion)
          \(ProviderLibraries.curlVersion)
        """
    }
}

/// Exit codes scripts and systemd can rely on (sysexits.h).
enum ExitStatus {
    /// EX_CONFIG: the configuration is unusable.
    static let config: Int32 = 78
}

/// Reads and validates a configuration file, or stops with exit code 78.
func loadConfiguration(path: String) throws -> VoicedConfig {
    guard let data = FileManager.default.contents(atPath: path) else {
        printError("\(path): cannot read the configuration file (does it exist, and may this user read it?)")
        throw ExitCode(ExitStatus.config)
    }
    let config: VoicedConfig
    do {
        config = try VoicedConfig.parse(bytes: data, file: path)
    } catch {
        printError(error.description)
        throw ExitCode(ExitStatus.config)
    }
    // The provider names: only the registry knows which exist.
    do {
        try ProviderRegistry.checkNames(config)
    } catch {
        printError("\(path): \(error.description)")
        throw ExitCode(ExitStatus.config)
    }
    return config
}

func printError(_ message: String) {
    Printf.write("voiced: " + message + "\n", to: STDERR_FILENO)
}

struct PrintDefaultConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "print-default-config",
        abstract: "Print every configuration key with its default and documentation (config/voiced.toml)."
    )
    func run() { print(VoicedConfig().documentedTOML(), terminator: "") }
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the daemon (the default).")

    @Option(help: "The configuration file.")
    var config = "/etc/voiced/voiced.toml"

    @Option(name: .customLong("check-config"), help: ArgumentHelp("Check a configuration file and exit (0: usable, 78: not).", valueName: "path"))
    var checkConfig: String?

    func run() async throws {
        if let path = checkConfig {
            _ = try loadConfiguration(path: path)
            print("\(path): OK")
            return
        }
        let configuration = try loadConfiguration(path: config)
        let level = Logger.Level(rawValue: configuration.log.level) ?? .info
        _ = VoicedLogging.bootstrap(level: level)
        var logger = Logger(label: "voiced")
        logger.logLevel = level
        let daemon: Daemon
        do {
            daemon = try Daemon(config: configuration, configPath: config, logger: logger)
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error.message)"])
            printError(error.message)
            throw ExitCode(error.isConfiguration ? ExitStatus.config : 1)
        }
        do {
            try await daemon.run()
        } catch let error as DaemonError {
            logger.critical("cannot run", metadata: ["error": "\(error.message)"])
            printError(error.message)
            throw ExitCode(error.isConfiguration ? ExitStatus.config : 1)
        }
    }
}
