import Foundation
import Testing
import VoiceFakeCloud

/// The fallback voice's library (libespeak-ng, and the PulseAudio, X11 and codec libraries it
/// brings) is loaded on first use: a daemon whose cloud voice works never maps it.
@Suite(.serialized) struct FallbackVoiceLoadingTests {
    @Test func espeakIsLoadedOnlyOnceTheFallbackVoiceSpeaks() throws {
        // Every text-to-speech request fails, so the answer is spoken in the fallback voice.
        var script = FakeCloudScript.instant
        script.faults = [FakeCloudScript.Fault(service: .tts, requests: nil, kind: .status)]
        let d = try DaemonHarness(turnConfig: "always_listening = true", cloud: FakeCloud(script: script),
                                  capture: ControlSocketLimitTests.speechEveryFiveSeconds())
        let pid = try #require(d.daemonPID)
        func mapped() -> Bool {
            // Read to the end: /proc files report size 0, and a one-read helper can stop short.
            let data = FileHandle(forReadingAtPath: "/proc/\(pid)/maps")?.readDataToEndOfFile() ?? Data()
            return String(decoding: data, as: UTF8.self).contains("libespeak-ng")
        }
        #expect(!mapped(), "the idle daemon maps libespeak-ng")
        // The first speech comes 2 s in; its answer cannot reach the cloud voice.
        #expect(PromisesTests.wait(30) { mapped() }, "libespeak-ng was never loaded though the fallback voice had to speak: \(d.log)")
    }
}
