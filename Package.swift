// swift-tools-version: 6.1
import PackageDescription

// Swift 6 language mode (the default for tools-version 6.x) turns on strict concurrency checking.
let package = Package(
    name: "voiced",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "voiced", targets: ["voiced"]),
        .executable(name: "voicectl", targets: ["voicectl"]),
        .executable(name: "voiced-bench", targets: ["voiced-bench"]),
        .executable(name: "voiced-echo-bench", targets: ["voiced-echo-bench"]),
        .executable(name: "voiced-fakecloud", targets: ["voiced-fakecloud"]),
        .executable(name: "voiced-demo", targets: ["voiced-demo"]),
        .library(name: "VoiceCore", targets: ["VoiceCore"]),
        .library(name: "VoiceTesting", targets: ["VoiceTesting"]),
        .library(name: "VoiceFakeCloud", targets: ["VoiceFakeCloud"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),  // LogEvent, for the journald handler
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // The Deepgram live client: WebSocket client over NIO (TLS through NIO-SSL).
        .package(url: "https://github.com/hummingbird-project/swift-websocket.git", from: "1.6.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0", traits: []),
        // The loopback fake cloud and the test servers only; the daemon does not link them.
        // No default traits: the fake cloud needs neither swift-configuration nor full Foundation.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
    ],
    targets: [
        // System libraries: pkg-config name and the Debian package that provides it.
        .systemLibrary(name: "CALSA", pkgConfig: "alsa", providers: [.apt(["libasound2-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CGPIOD", pkgConfig: "libgpiod", providers: [.apt(["libgpiod-dev"])]),
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        .systemLibrary(name: "CSpeexDSP", pkgConfig: "speexdsp", providers: [.apt(["libspeexdsp-dev"])]),
        // Headers only: libespeak-ng is loaded on first use (dlopen), so no pkg-config link flags.
        .systemLibrary(name: "CEspeak", providers: [.apt(["libespeak-ng-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),

        // Pure logic: the standard library and swift-log only.
        .target(
            name: "VoiceCore",
            dependencies: [.product(name: "Logging", package: "swift-log")]
        ),
        // speexdsp's resampler behind one wrapper: the espeak-ng voice, speech providers and WAV input share it.
        .target(name: "VoiceDSP", dependencies: ["CSpeexDSP"]),
        // Adapters: each depends on VoiceCore and on one outside world.
        .target(
            name: "VoiceLinux",
            dependencies: [
                "VoiceCore", "VoiceDSP", "VoiceSupport", "CALSA", "CGPIOD", "CSystemd", "CSpeexDSP",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "VoiceProviders",
            dependencies: [
                "VoiceCore", "VoiceDSP", "VoiceSupport", "CCurl",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "WSClient", package: "swift-websocket"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The espeak-ng voice (fallback TTS and system notices); also the fake cloud's TTS voice,
        // which is why it is its own target: the fake cloud uses it without linking libcurl.
        .target(
            name: "VoiceEspeak",
            dependencies: ["VoiceCore", "VoiceDSP", "CEspeak", .product(name: "Logging", package: "swift-log")]
        ),
        // The on-device SQLite store and the upstream sync to Postgres (through libpq).
        .target(
            name: "VoiceTelemetry",
            dependencies: [
                "VoiceCore", "VoiceSupport", "CSQLite", "CLibPQ",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The daemon's services and object graph: only it knows every adapter.
        .target(
            name: "VoiceDaemon",
            dependencies: [
                "VoiceCore", "VoiceLinux", "VoiceProviders", "VoiceEspeak", "VoiceTelemetry", "VoiceControl", "VoiceSupport",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Small helpers shared by tools: an order-keeping JSON value and its strict reader.
        .target(name: "VoiceSupport", dependencies: ["VoiceCore"]),
        // The control socket's protocol (newline-delimited JSON) and its client, for voicectl and the daemon.
        .target(name: "VoiceControl", dependencies: ["VoiceCore", "VoiceSupport"]),
        // Manual clock, scripted fakes and the scenario runner: used by tests, the simulator and the demo.
        .target(name: "VoiceTesting", dependencies: ["VoiceCore", "VoiceSupport"]),
        // The loopback fake cloud: Deepgram live STT, OpenAI-compatible chat, ElevenLabs TTS, with faults.
        .target(
            name: "VoiceFakeCloud",
            dependencies: [
                "VoiceCore", "VoiceEspeak", "VoiceDSP",
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
                "VoiceCore", "VoiceDaemon", "VoiceLinux", "VoiceProviders", "VoiceTelemetry", "VoiceTesting", "VoiceSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            // The release daemon, linked for a small resident footprint (docs/benchmarks.md,
            // "Footprint"): lld packs the relative relocations (DT_RELR, glibc 2.36 and later), so
            // the loader no longer keeps 2.5 MB of relocation records resident; and the executable
            // exports no symbols (the static Swift runtime's link flags export ours, which nothing
            // looks up: 2.4 MB of symbol tables the loader searched on every library symbol).
            linkerSettings: [
                .unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs",
                              "-Xlinker", "--no-export-dynamic"], .when(platforms: [.linux], configuration: .release)),
            ]
        ),
        .executableTarget(
            name: "voicectl",
            dependencies: ["VoiceControl", "VoiceCore", "VoiceSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "voiced-bench",
            dependencies: ["VoiceCore", "VoiceLinux", "VoiceProviders", "VoiceTesting", "VoiceSupport",
                           .product(name: "Logging", package: "swift-log")]
        ),
        // The echo benchmark (scripts/bench-echo.sh): the capture path in the room harness.
        .executableTarget(
            name: "voiced-echo-bench",
            dependencies: ["VoiceCore", "VoiceLinux", "VoiceEspeak"]
        ),
        // The README's main job: a conversation through the real daemon against the fake cloud.
        .executableTarget(
            name: "voiced-demo",
            dependencies: [
                "VoiceCore", "VoiceEspeak", "VoiceControl", "VoiceSupport", "VoiceTelemetry", "VoiceTesting",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The telemetry store's crash-test writer and its benchmark (scripts/bench-telemetry.sh).
        .executableTarget(
            name: "voiced-telemetry-tool",
            dependencies: [
                "VoiceCore", "VoiceTelemetry",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "voiced-fakecloud",
            dependencies: [
                "VoiceFakeCloud",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        .testTarget(name: "VoiceCoreTests", dependencies: ["VoiceCore", "VoiceTesting", "VoiceSupport"]),
        // Runs the built `voiced` binary: exit codes and messages as scripts and systemd see them.
        .testTarget(
            name: "VoicedTests",
            dependencies: ["voiced", "voicectl", "voiced-fakecloud", "voiced-demo", "VoiceCore", "VoiceSupport", "VoiceTesting",
                           "VoiceFakeCloud", "VoiceTelemetry", "VoiceEspeak"]
        ),
        .testTarget(name: "VoiceDaemonTests", dependencies: ["VoiceDaemon", "VoiceTesting"]),
        .testTarget(name: "VoiceControlTests", dependencies: ["VoiceControl", "VoiceSupport"]),
        .testTarget(name: "VoiceTestingTests", dependencies: ["VoiceTesting", "VoiceCore", "VoiceSupport"]),
        .testTarget(
            name: "VoiceLinuxTests",
            dependencies: [
                "VoiceLinux", "VoiceProviders", "VoiceTelemetry", "VoiceCore", "VoiceTesting",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
            ]
        ),
        // Depends on the tool so that `swift test` builds the crash-test helper it runs.
        .testTarget(
            name: "VoiceTelemetryTests",
            dependencies: [
                "VoiceTelemetry", "VoiceCore", "VoiceTesting", "voiced-telemetry-tool",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
            ]
        ),
        // Capture, playback, WAV, earcons, voice activity and echo cancellation.
        .testTarget(
            name: "VoiceAudioTests",
            dependencies: ["VoiceCore", "VoiceDSP", "VoiceLinux", "VoiceTesting", .product(name: "Logging", package: "swift-log")]
        ),
        // Every provider against loopback servers speaking the real wire protocols, faults included.
        .testTarget(
            name: "VoiceProvidersTests",
            dependencies: [
                "VoiceProviders", "VoiceDSP", "VoiceEspeak", "VoiceFakeCloud", "VoiceTesting", "VoiceCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                // A WebSocket client to test the fake Deepgram service from the outside.
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
            ]
        ),
    ]
)
