// swift-tools-version: 6.1
import PackageDescription

// Swift 6 language mode (the default for tools-version 6.x) turns on strict concurrency checking.
let package = Package(
    name: "voiced",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "voiced", targets: ["voiced"]),
        .executable(name: "voiced-bench", targets: ["voiced-bench"]),
        .executable(name: "voiced-fakecloud", targets: ["voiced-fakecloud"]),
        .library(name: "VoiceCore", targets: ["VoiceCore"]),
        .library(name: "VoiceTesting", targets: ["VoiceTesting"]),
        .library(name: "VoiceFakeCloud", targets: ["VoiceFakeCloud"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        // The loopback fake cloud only (HTTP + WebSocket server); the daemon does not link them.
        // No default traits: the fake cloud needs neither swift-configuration nor full Foundation.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0", traits: []),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
    ],
    targets: [
        // System libraries: pkg-config name and the Debian package that provides it.
        .systemLibrary(name: "CALSA", pkgConfig: "alsa", providers: [.apt(["libasound2-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CGPIOD", pkgConfig: "libgpiod", providers: [.apt(["libgpiod-dev"])]),
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        .systemLibrary(name: "CEspeak", pkgConfig: "espeak-ng", providers: [.apt(["libespeak-ng-dev"])]),

        // Pure logic: the standard library and swift-log only.
        .target(
            name: "VoiceCore",
            dependencies: [.product(name: "Logging", package: "swift-log")]
        ),
        // Adapters: each depends on VoiceCore and on one outside world.
        .target(name: "VoiceLinux", dependencies: ["VoiceCore", "CALSA", "CGPIOD", "CSystemd"]),
        .target(
            name: "VoiceProviders",
            dependencies: ["VoiceCore", "CCurl", .product(name: "Logging", package: "swift-log")]
        ),
        // The espeak-ng voice (fallback TTS and system notices); also the fake cloud's TTS voice,
        // which is why it is its own target: the fake cloud uses it without linking libcurl.
        .target(
            name: "VoiceEspeak",
            dependencies: ["VoiceCore", "CEspeak", .product(name: "Logging", package: "swift-log")]
        ),
        .target(name: "VoiceTelemetry", dependencies: ["VoiceCore", "CSQLite"]),
        // Manual clock, scripted fakes and the scenario runner: used by tests, the simulator and the demo.
        .target(name: "VoiceTesting", dependencies: ["VoiceCore"]),
        // The loopback fake cloud: Deepgram live STT, OpenAI-compatible chat, ElevenLabs TTS, with faults.
        .target(
            name: "VoiceFakeCloud",
            dependencies: [
                "VoiceCore", "VoiceEspeak",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        .executableTarget(
            name: "voiced",
            dependencies: [
                "VoiceCore", "VoiceLinux", "VoiceProviders", "VoiceTelemetry", "VoiceTesting",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(name: "voiced-bench", dependencies: ["VoiceCore", "VoiceTesting"]),
        .executableTarget(
            name: "voiced-fakecloud",
            dependencies: [
                "VoiceFakeCloud",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        .testTarget(name: "VoiceCoreTests", dependencies: ["VoiceCore", "VoiceTesting"]),
        .testTarget(name: "VoiceTestingTests", dependencies: ["VoiceTesting", "VoiceCore"]),
        .testTarget(name: "VoiceLinuxTests", dependencies: ["VoiceLinux", "VoiceProviders", "VoiceTelemetry"]),
        .testTarget(
            name: "VoiceProvidersTests",
            dependencies: [
                "VoiceProviders", "VoiceEspeak", "VoiceFakeCloud", "VoiceTesting", "VoiceCore",
                .product(name: "Logging", package: "swift-log"),
                // A WebSocket client to test the fake Deepgram service from the outside.
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                // A TLS server with an untrusted certificate, to prove verification is on.
                .product(name: "HummingbirdTLS", package: "hummingbird"),
            ]
        ),
    ]
)
