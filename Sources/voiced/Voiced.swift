import ArgumentParser
import VoiceCore
import VoiceLinux
import VoiceProviders
import VoiceTelemetry

@main
struct Voiced: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "voiced",
        abstract: "The voice assistant daemon of the voiced smart speaker.",
        version: VoicedVersion.string,
        subcommands: [Simulate.self]
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
