#!/usr/bin/env bash
# Installs every Debian package that voiced's build, tests and demo need, then builds.
# Idempotent: safe to rerun. Runs as root on Debian 12 (bookworm) with Swift on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages, one per line: what each is for.
PACKAGES=(
  pkg-config            # SwiftPM finds the system libraries through it
  libasound2-dev        # ALSA: capture and playback
  libspeexdsp-dev       # speexdsp's echo canceller, so the speaker's own voice does not barge in
  libcurl4-openssl-dev  # HTTP + SSE for the LLM and the TTS clients
  libsqlite3-dev        # the on-device telemetry store
  libgpiod-dev          # LEDs and the push-button (libgpiod v1 API, 1.6)
  libsystemd-dev        # sd_notify, watchdog and the journald log handler
  systemd               # systemd-analyze, -sysusers, -tmpfiles: scripts/check-systemd.sh checks the unit
  libespeak-ng-dev      # espeak-ng in-process: the fallback voice, notices and the fake cloud's TTS
  espeak-ng-data        # espeak-ng's voices and dictionaries (libespeak-ng cannot speak without them)
  libpq-dev             # libpq: the telemetry sync to the central PostgreSQL
  postgresql            # a throwaway server for the telemetry tests (scripts/with-postgres.sh)
  openssl               # that server's TLS certificates, and device passwords
  espeak-ng             # the espeak-ng command: scripts/soak.sh makes the user's speech with it
  sqlite3               # the sqlite3 command: scripts/soak.sh counts the turns in the store
)

"$(dirname "$0")/apt-ensure.sh" setup "${PACKAGES[@]}"

if ! command -v swift >/dev/null 2>&1; then
  echo "setup: swift is not on PATH; install Swift 6.1 or later (https://www.swift.org/install/linux/) and rerun" >&2
  exit 1
fi

echo "setup: building (debug)"
swift build ${SWIFT_BUILD_FLAGS:-}
