#!/usr/bin/env bash
# The README's test command: sets everything up, then runs every test.
#   1. scripts/setup.sh: Debian packages and a debug build
#   2. a warning check of our own sources (swift build must stay free of warnings)
#   3. the audio ring buffer's tests, with their concurrent stress test, under ThreadSanitizer
#      (scripts/tsan is a tiny package over VoiceCore, so the whole daemon is not rebuilt with TSan)
#   4. the systemd unit, sysusers and tmpfiles files (systemd-analyze verify, security <= 2.0)
#   5. the end-to-end demo, which checks the conversation it hears and exits non-zero otherwise
#   6. the whole test suite, with a throwaway PostgreSQL on loopback (scripts/with-postgres.sh),
#      then the daemon-level tests (real processes, timing-sensitive) one at a time
#   Also: every parser of outside input under libFuzzer for a few seconds each, the pi-gen stage's
#   structure, and last the system test (scripts/system-test.sh): the .deb installed on a booted
#   bookworm VM, voiced under systemd with a kernel ALSA card and a kernel GPIO chip.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "test: building tests (warnings in our sources fail the run)"
swift build --build-tests 2>&1 | tee "$log" | grep -E "error|warning:|Compiling voiced|Build complete" || true
if grep -E "^$PWD/(Sources|Tests)/.*(warning|error):" "$log" >/dev/null; then
  echo "test: FAILED: the build has warnings or errors in our sources:" >&2
  grep -E "^$PWD/(Sources|Tests)/.*(warning|error):" "$log" >&2
  exit 1
fi

echo "test: ring buffer stress test under ThreadSanitizer"
swift test --package-path scripts/tsan --sanitize=thread --disable-xctest
scripts/fuzz.sh all 15  # every parser of outside input under libFuzzer + AddressSanitizer, 15 s each (docs/reliability.md)

echo "test: systemd unit checks"
scripts/check-systemd.sh

echo "test: the pi-gen stage against pi-gen's documented rules"
scripts/check-pigen-stage.sh

echo "test: the installer, into a temporary root (what an OS image gets)"
root=$(mktemp -d)
DESTDIR="$root" scripts/install.sh --no-build --bin "$(swift build --show-bin-path)" >/dev/null
for f in usr/bin/voiced usr/bin/voicectl usr/lib/systemd/system/voiced.service usr/lib/sysusers.d/voiced.conf \
         usr/lib/tmpfiles.d/voiced.conf usr/lib/udev/rules.d/99-voiced.rules etc/voiced/voiced.toml \
         usr/share/bash-completion/completions/voicectl usr/share/zsh/vendor-completions/_voicectl; do
  [ -s "$root/$f" ] || { echo "test: FAILED: the installer did not install $f" >&2; exit 1; }
done
grep -q "voicectl" "$root/usr/share/bash-completion/completions/voicectl"
"$root/usr/bin/voiced" --check-config "$root/etc/voiced/voiced.toml" >/dev/null
rm -rf "$root"

echo "test: the end-to-end demo (the README's main job), checked by voiced-demo itself"
demo_out=$(mktemp -d)
"$(swift build --show-bin-path)/voiced-demo" --out "$demo_out"
rm -rf "$demo_out"

echo "test: the whole suite but the daemon-level tests (a throwaway PostgreSQL on loopback for the telemetry sync)"
scripts/with-postgres.sh swift test --disable-xctest --skip VoicedTests

echo "test: the daemon-level tests (real voiced, voicectl and fake cloud processes), one at a time"
swift test --disable-xctest --filter VoicedTests --no-parallel

echo "test: the system test: the .deb in a booted VM under systemd, kernel ALSA (snd-aloop) and GPIO (gpio-sim)"
# The release build and the VM's base image are cached between runs in /var/cache/voiced-ci.
export VOICED_RELEASE_SCRATCH=${VOICED_RELEASE_SCRATCH:-/var/cache/voiced-ci/build-release}
scripts/system-test.sh

echo "test: a one-minute soak of the release daemon with faults (scripts/soak.sh 60 is the long run)"
scripts/soak.sh 1
