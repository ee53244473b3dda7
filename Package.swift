// swift-tools-version: 6.1
import PackageDescription

// Swift 6 language mode (the default for tools-version 6.x) turns on strict concurrency checking.
let package = Package(
    name: "voiced",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "voiced", targets: ["voiced"]),
        .executable(name: "voiced-bench", targets: ["voiced-bench"]),
        .library(name: "VoiceCore", targets: ["VoiceCore"]),
        .library(name: "VoiceTesting", targets: ["VoiceTesting"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
    ],
    targets: [
        // System libraries: pkg-config name and the Debian package that provides it.
        .systemLibrary(name: "CALSA", pkgConfig: "alsa", providers: [.apt(["libasound2-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CGPIOD", pkgConfig: "libgpiod", providers: [.apt(["libgpiod-dev"])]),
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),

        // Pure logic: the standard library and swift-log only.
        .target(
            name: "VoiceCore",
            dependencies: [.product(name: "Logging", package: "swift-log")]
        ),
        // Adapters: each depends on VoiceCore and on one outside world.
        .target(name: "VoiceLinux", dependencies: ["VoiceCore", "CALSA", "CGPIOD", "CSystemd"]),
        .target(name: "VoiceProviders", dependencies: ["VoiceCore", "CCurl"]),
        // The on-device SQLite store and the upstream sync to Postgres (through libpq).
        .target(
            name: "VoiceTelemetry",
            dependencies: [
                "VoiceCore", "CSQLite", "CLibPQ",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Manual clock, scripted fakes and the scenario runner: used by tests, the simulator and the demo.
        .target(name: "VoiceTesting", dependencies: ["VoiceCore"]),

        .executableTarget(
            name: "voiced",
            dependencies: [
                "VoiceCore", "VoiceLinux", "VoiceProviders", "VoiceTelemetry", "VoiceTesting",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(name: "voiced-bench", dependencies: ["VoiceCore", "VoiceTesting"]),
        // The telemetry store's crash-test writer and its benchmark (scripts/bench-telemetry.sh).
        .executableTarget(
            name: "voiced-telemetry-tool",
            dependencies: [
                "VoiceCore", "VoiceTelemetry",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        .testTarget(name: "VoiceCoreTests", dependencies: ["VoiceCore", "VoiceTesting"]),
        .testTarget(name: "VoiceTestingTests", dependencies: ["VoiceTesting", "VoiceCore"]),
        .testTarget(name: "VoiceLinuxTests", dependencies: ["VoiceLinux", "VoiceProviders", "VoiceTelemetry"]),
        // Depends on the tool so that `swift test` builds the crash-test helper it runs.
        .testTarget(
            name: "VoiceTelemetryTests",
            dependencies: [
                "VoiceTelemetry", "VoiceCore", "VoiceTesting", "voiced-telemetry-tool",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
            ]
        ),
    ]
)
