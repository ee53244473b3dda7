import Logging
import VoiceCore
import VoiceEspeak
import VoiceProviders

/// The providers, chosen by `[stt] provider`, `[llm] provider` and `[tts] provider` through
/// `ProviderRegistry`, and the espeak-ng fallback voice. Keys come from systemd credentials or the
/// environment, never the configuration file.
struct Cloud: Sendable {
    let context: ProviderContext
    let llm: any LanguageModelProvider
    let tts: any TextToSpeechProvider
    let fallback: EspeakTTS

    /// An unknown provider or a missing key is a configuration error.
    static func build(_ config: VoicedConfig, credentials: CredentialSource, clock: any VoiceClock,
                      logger: Logger) throws(DaemonError) -> Cloud {
        let context = ProviderContext(config: config, credentials: credentials, clock: clock, logger: logger)
        do {
            try ProviderRegistry.check(context)
            let llm = try ProviderRegistry.languageModel(context)
            let tts = try ProviderRegistry.textToSpeech(context)
            let fallback = EspeakTTS(voice: config.fallbackTTS.voice, wordsPerMinute: config.fallbackTTS.wordsPerMinute,
                                     logger: logger.with(label: "voiced.espeak"))
            return Cloud(context: context, llm: llm, tts: tts, fallback: fallback)
        } catch {
            throw DaemonError(error.description, configuration: true)
        }
    }

    /// Speech-to-text reading the ring: its events go to the turns; going offline makes the
    /// speaker say so and go idle.
    func speechToText(ring: AudioRingBuffer, onEvent: @escaping @Sendable (SpeechEvent) -> Void,
                      onStatus: @escaping @Sendable (SpeechToTextStatus) -> Void) throws(DaemonError) -> any SpeechToTextProvider {
        do {
            return try ProviderRegistry.speechToText(context, SpeechToTextWiring(audio: ring, onEvent: onEvent, onStatus: onStatus))
        } catch {
            throw DaemonError(error.description, configuration: true)
        }
    }
}
