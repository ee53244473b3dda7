// swift-tools-version: 6.1
// The audio ring buffer's tests under ThreadSanitizer, without rebuilding the whole daemon with
// TSan: this package depends on voiced's VoiceCore only. Run by scripts/test.sh:
//     swift test --package-path scripts/tsan --sanitize=thread
import PackageDescription

let package = Package(
    name: "voiced-tsan",
    dependencies: [.package(name: "voiced", path: "../..")],
    targets: [
        .testTarget(
            name: "AudioRingBufferTSan",
            dependencies: [.product(name: "VoiceCore", package: "voiced"), .product(name: "VoiceTesting", package: "voiced")],
            path: "Tests"
        ),
    ]
)
