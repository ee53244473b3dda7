import Testing
import VoiceLinux
import VoiceProviders
import VoiceTelemetry

/// The system libraries link and answer: the shims point at the right headers and libraries.
@Suite struct SystemLibrariesTests {
    @Test func alsaAndGpiodReportTheirVersions() {
        #expect(LinuxLibraries.alsaVersion.hasPrefix("1."))
        #expect(LinuxLibraries.gpiodVersion.hasPrefix("1."))  // the v1 API
    }

    @Test func curlAndSqliteReportTheirVersions() {
        #expect(ProviderLibraries.curlVersion.hasPrefix("libcurl/"))
        #expect(TelemetryLibraries.sqliteVersion.hasPrefix("3."))
    }
}
