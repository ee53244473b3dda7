import Glibc
import Testing
@testable import VoiceLinux

@Suite struct ALSARecoveryTests {
    @Test func anXrunIsRecovered() {
        let device = FakePCM()
        let step = PCMRecoveryPolicy.handle(code: -Int(EPIPE), call: "snd_pcm_readi", device: device, name: "fake")
        #expect(step == .recovered(.xrun))
        #expect(device.record.withLock { $0.recovered } == [-EPIPE])
    }

    @Test func aSuspendIsRecovered() {
        let device = FakePCM()
        #expect(PCMRecoveryPolicy.handle(code: -Int(ESTRPIPE), call: "snd_pcm_writei", device: device, name: "fake") == .recovered(.suspended))
    }

    @Test func aFailedRecoveryReopens() {
        let device = FakePCM()
        device.record.withLock { $0.recoverResult = -EPIPE }
        let step = PCMRecoveryPolicy.handle(code: -Int(EPIPE), call: "snd_pcm_writei", device: device, name: "fake")
        #expect(step == .reopen(.failed("snd_pcm_writei", code: -EPIPE, device: "fake")))
    }

    @Test(arguments: [ENODEV, EBADFD, ENXIO, ESHUTDOWN])
    func aVanishedDeviceIsReopenedWithoutRecovering(errno: Int32) {
        let device = FakePCM()
        let step = PCMRecoveryPolicy.handle(code: -Int(errno), call: "snd_pcm_readi", device: device, name: "fake")
        #expect(step == .reopen(.failed("snd_pcm_readi", code: -errno, device: "fake")))
        #expect(device.record.withLock { $0.recovered }.isEmpty)
    }

    @Test(arguments: [EAGAIN, EINTR])
    func notReadyIsRetried(errno: Int32) {
        #expect(PCMRecoveryPolicy.handle(code: -Int(errno), call: "snd_pcm_readi", device: FakePCM(), name: "fake") == .retry)
    }

    @Test func backoffDoublesUpToTheMaximumAndResets() {
        var backoff = ReopenBackoff(initial: .milliseconds(250), maximum: .seconds(2))
        #expect((0..<6).map { _ in backoff.next() } == [.milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(2), .seconds(2)])
        #expect(backoff.attempts == 6)
        backoff.reset()
        #expect(backoff.next() == .milliseconds(250))
    }

    @Test func errorsNameTheCallAndALSAsWordsAndSayWhatToDo() {
        let error = ALSAError.failed("snd_pcm_open", code: -ENOENT, device: "usbmic")
        #expect(error.description.contains("snd_pcm_open failed on PCM \"usbmic\": No such file or directory"))
        #expect(error.description.contains("aplay -L"))
        #expect(ALSAError.failed("snd_pcm_readi", code: -ENODEV, device: "x").isDeviceGone)
        #expect(ALSAError.failed("snd_pcm_hw_params", code: -EINVAL, device: "hw:0").description.contains("plughw"))
    }
}
