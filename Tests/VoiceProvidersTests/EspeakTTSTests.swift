import Testing
@testable import VoiceCore
import VoiceDSP
import VoiceEspeak

/// The local voice: real espeak-ng, in-process, at the playback rate.
@Suite struct EspeakTTSTests {
    func run(_ tts: EspeakTTS, _ text: String, id: Int = 1) async -> [TTSEvent] {
        let events = Recorder<TTSEvent>()
        tts.start(TTSRequest(id: id, turn: 1, segment: 0, text: text, voice: .fallback, call: nil)) { events.append($0) }
        await events.wait { $0.contains(where: \.isTerminal) }
        return events.events
    }

    @Test func speaksAtSixteenKilohertzInPieces() async throws {
        let events = await run(EspeakTTS(), "I can't reach the assistant right now.")
        #expect(events.last == .finished)
        let pcm = events.flatMap(\.samples)
        // About two seconds of speech at 16 kHz, in 50 ms pieces, and not silence.
        #expect((16_000...64_000).contains(pcm.count))
        #expect(events.count > 10)
        #expect(pcm.map { abs(Int($0)) }.max() ?? 0 > 3000)
    }

    @Test func cancelStopsTheSynthesis() async throws {
        let tts = EspeakTTS()
        let events = Recorder<TTSEvent>()
        let long = String(repeating: "This is a long text that takes a while to say. ", count: 20)
        // Cancelled from its first chunk, on the engine's own thread: mid-synthesis whatever the
        // machine's load (a cancel from the test's task could come after the whole text was said).
        tts.start(TTSRequest(id: 5, turn: 1, segment: 0, text: long, voice: .fallback, call: nil)) { event in
            events.append(event)
            if events.events.count == 1 { tts.cancel(request: 5) }
        }
        // The engine is serial: once the next text is finished, the cancelled one has ended. The
        // engine is free again at once.
        #expect(await run(tts, "Next.", id: 6).last == .finished)
        #expect(events.events.count == 1, "nothing after the cancel: \(events.events.count) events")
        let ended = events.events.filter { $0.isTerminal }
        #expect(ended.isEmpty, "after the cancel: \(ended)")
    }

    @Test func anUnknownVoiceFailsWithAnActionableMessage() async {
        let events = await run(EspeakTTS(voice: "xx-nonexistent"), "Hello.")
        #expect(events.last?.failure?.contains("espeak-ng --voices") == true)
    }

    @Test func noticesAreReadyToPlay() async throws {
        for notice in SystemNotice.allCases {
            let pcm = try await EspeakTTS().speak(notice)
            #expect(pcm.count > 8_000, "\(notice) is at least half a second")
        }
    }
}

/// speexdsp's resampler, which brings espeak's 22 050 Hz (and OpenAI speech's 24 kHz) to the playback rate.
@Suite struct ResamplerTests {
    func sine(_ frequency: Double, rate: Int, seconds: Double, amplitude: Double = 10_000) -> [Int16] {
        (0..<Int(Double(rate) * seconds)).map { Int16(amplitude * sin(2 * Double.pi * frequency * Double($0) / Double(rate))) }
    }

    /// The signal's frequency, from its zero crossings.
    func frequency(_ samples: ArraySlice<Int16>, rate: Int) -> Double {
        var crossings = 0
        for index in samples.indices.dropFirst() where (samples[index - 1] < 0) != (samples[index] < 0) { crossings += 1 }
        return Double(crossings) / 2 / (Double(samples.count) / Double(rate))
    }

    @Test func keepsPitchAndDurationWhenChunksAreOfAnySize() throws {
        let input = sine(1000, rate: 22_050, seconds: 1)
        for chunk in [1, 100, 441, 22_050] {
            let resampler = try SpeexResampler(from: 22_050, to: 16_000)
            var output: [Int16] = []
            for start in stride(from: 0, to: input.count, by: chunk) { output += try resampler.process(input[start..<min(start + chunk, input.count)]) }
            output += try resampler.flush()
            #expect(abs(output.count - 16_000) <= 2, "chunks of \(chunk)")
            #expect(abs(frequency(output[1000..<15_000], rate: 16_000) - 1000) < 5)
        }
    }

    @Test func removesWhatTheLowerRateCannotCarry() throws {
        // 10 kHz is above the 8 kHz Nyquist frequency of 16 kHz: it must not alias into the output.
        let resampler = try SpeexResampler(from: 22_050, to: 16_000)
        let output = try resampler.process(sine(10_000, rate: 22_050, seconds: 0.5)) + resampler.flush()
        let rms = AudioMath.rms(output[500..<7500])
        #expect(rms < 500, "alias level \(rms) of a 7071 RMS input")
    }

    @Test func sameRateIsUntouched() throws {
        let resampler = try SpeexResampler(from: 16_000, to: 16_000)
        let input: [Int16] = [1, -2, 3, 32767, -32768]
        #expect(try resampler.process(input) == input)
    }

    @Test func aRateOutOfRangeIsRefusedWithTheRange() {
        #expect(throws: ResamplerError.invalidRate(input: 0, output: 16_000)) { try SpeexResampler(from: 0, to: 16_000) }
        #expect(ResamplerError.invalidRate(input: 0, output: 16_000).description.contains("1 to 768000 Hz"))
    }

    @Test func flushStartsAfreshLikeANewResampler() throws {
        let input = sine(440, rate: 24_000, seconds: 0.1)
        let reused = try SpeexResampler(from: 24_000, to: 16_000)
        _ = try reused.process(sine(3000, rate: 24_000, seconds: 0.05))
        _ = try reused.flush()
        let again = try reused.process(input) + reused.flush()
        #expect(again == (try SpeexResampler.convert(input, from: 24_000, to: 16_000)))
    }
}

#if canImport(Glibc)
import Glibc
#endif
