import Logging
import VoiceCore
import VoiceEspeak
import VoiceProviders

/// The providers: the chat model, the streaming voice and the espeak-ng fallback voice, and the
/// speech-to-text key, from [llm], [tts], [fallback_tts], [stt] and the credentials. Keys come
/// from systemd credentials or the environment, never the configuration file.
struct Cloud: Sendable {
    let llm: OpenAIChat
    let tts: ElevenLabsTTS
    let fallback: EspeakTTS
    let deepgramKey: DeepgramKey

    static func build(_ config: VoicedConfig, credentials: CredentialSource, clock: any VoiceClock,
                      logger: Logger) throws(DaemonError) -> Cloud {
        // A missing speech-to-text key is a configuration error.
        let deepgramKey: DeepgramKey
        do {
            guard let secret = try credentials.load(.deepgram) else {
                throw DaemonError("no Deepgram API key: set the systemd credential \(CredentialName.deepgram.file) or \(CredentialName.deepgram.variable)", configuration: true)
            }
            deepgramKey = try DeepgramKey(secret.reveal())
        } catch let error as DaemonError {
            throw error
        } catch {
            throw DaemonError("the Deepgram API key is unusable: \(error)", configuration: true)
        }
        let llm: OpenAIChat
        let tts: ElevenLabsTTS
        do {
            var chat = OpenAIChatConfiguration(baseURL: config.llm.baseURL, model: config.llm.model,
                                               apiKey: try credentials.load(.openAI))
            chat.maxTokens = config.llm.maxTokens
            chat.temperature = config.llm.temperature
            llm = try OpenAIChat(configuration: chat, clock: clock, logger: logger.with(label: "voiced.llm"))
            let voice = ElevenLabsConfiguration(baseURL: config.tts.baseURL, voiceID: config.tts.voiceID,
                                                modelID: config.tts.modelID, apiKey: try credentials.load(.elevenLabs))
            tts = try ElevenLabsTTS(configuration: voice, clock: clock, logger: logger.with(label: "voiced.tts"))
        } catch {
            throw DaemonError("cannot set up the cloud providers: \(error)", configuration: true)
        }
        let fallback = EspeakTTS(voice: config.fallbackTTS.voice, wordsPerMinute: config.fallbackTTS.wordsPerMinute,
                                 logger: logger.with(label: "voiced.espeak"))
        return Cloud(llm: llm, tts: tts, fallback: fallback, deepgramKey: deepgramKey)
    }

    /// Speech-to-text reading the ring: its events go to the turns; going offline makes the
    /// speaker say so and go idle.
    func speechToText(_ config: VoicedConfig, ring: AudioRingBuffer, clock: any VoiceClock, logger: Logger,
                      onEvent: @escaping @Sendable (SpeechEvent) -> Void,
                      onStatus: @escaping @Sendable (SpeechToTextStatus) -> Void) throws(DaemonError) -> DeepgramLiveClient {
        do {
            let deepgram = DeepgramConfiguration(baseURL: config.stt.baseURL, model: config.stt.model, language: config.stt.language,
                                                 endpointing: config.stt.endpointing, utteranceEnd: config.stt.utteranceEnd)
            return try DeepgramLiveClient(configuration: deepgram, apiKey: deepgramKey, audio: ring, clock: clock,
                                          logger: logger.with(label: "voiced.stt"), onEvent: onEvent, onStatus: onStatus)
        } catch {
            throw DaemonError("cannot set up speech-to-text: \(error)", configuration: true)
        }
    }
}
