#!/usr/bin/env bash
# Checks the systemd and udev files that install voiced on a speaker:
#   1. `systemd-analyze verify` of systemd/voiced.service prints nothing (warnings count as failures:
#      verify exits 0 on unknown keys and bad values, it only prints them);
#   2. `systemd-analyze security --offline=yes` scores it at most 2.0 (VOICED_MAX_EXPOSURE overrides);
#   3. systemd/voiced.sysusers and systemd/voiced.tmpfiles apply cleanly;
#   4. udev/99-voiced.rules passes `udevadm verify` where this udev has it (systemd 254 and later).
# Verify needs the ExecStart= binary to exist, so everything runs against a throwaway root
# (a stub /usr/bin/voiced and a copy of the system's units): nothing is installed here.
# Runs as root on Debian 12; installs the systemd package if systemd-analyze is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

unit=systemd/voiced.service
max_exposure=${VOICED_MAX_EXPOSURE:-2.0}
failed=0

if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "check-systemd: installing systemd (for systemd-analyze)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends systemd udev >/dev/null
fi
echo "check-systemd: $(systemd-analyze --version | head -1)"

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/usr/bin" "$root/usr/sbin" "$root/usr/lib/systemd" \
  "$root/usr/lib/sysusers.d" "$root/usr/lib/tmpfiles.d" "$root/etc/systemd/system"
ln -s usr/lib "$root/lib"
ln -s usr/bin "$root/bin"
ln -s usr/sbin "$root/sbin"
for stub in usr/bin/voiced usr/bin/kill; do       # ExecStart= and ExecReload= must exist
  printf '#!/bin/sh\nexit 0\n' >"$root/$stub"
  chmod 755 "$root/$stub"
done
cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/"   # the targets the unit orders itself after
cp "$unit" "$root/etc/systemd/system/voiced.service"

# 1. verify
if out=$(systemd-analyze verify --root="$root" "$root/etc/systemd/system/voiced.service" 2>&1) && [ -z "$out" ]; then
  echo "check-systemd: verify: OK"
else
  echo "check-systemd: verify: FAILED" >&2
  printf '%s\n' "$out" >&2
  failed=1
fi

# 2. security score
security=$(systemd-analyze security --offline=yes --no-pager "$unit" 2>&1 || true)
score=$(printf '%s\n' "$security" | sed -n 's/.*Overall exposure level for voiced\.service: \([0-9.]*\).*/\1/p')
if [ -z "$score" ]; then
  echo "check-systemd: security: FAILED: no score in the output:" >&2
  printf '%s\n' "$security" >&2
  failed=1
elif awk -v s="$score" -v m="$max_exposure" 'BEGIN { exit !(s <= m) }'; then
  echo "check-systemd: security: exposure $score (at most $max_exposure): OK"
else
  echo "check-systemd: security: FAILED: exposure $score is above $max_exposure:" >&2
  printf '%s\n' "$security" | grep '✗' >&2 || true
  failed=1
fi

# 3. sysusers and tmpfiles, applied to the throwaway root
mkdir -p "$root/etc"
cp /etc/passwd /etc/group "$root/etc/"
cp systemd/voiced.sysusers "$root/usr/lib/sysusers.d/voiced.conf"
cp systemd/voiced.tmpfiles "$root/usr/lib/tmpfiles.d/voiced.conf"
if out=$(systemd-sysusers --root="$root" voiced.conf 2>&1) \
  && grep -q '^voiced:' "$root/etc/passwd" \
  && grep -Eq '^audio:.*[:,]voiced(,|$)' "$root/etc/group" \
  && grep -Eq '^gpio:.*[:,]voiced(,|$)' "$root/etc/group"; then
  echo "check-systemd: sysusers: OK (voiced in audio and gpio)"
else
  echo "check-systemd: sysusers: FAILED" >&2
  printf '%s\n' "$out" >&2
  failed=1
fi
if out=$(systemd-tmpfiles --root="$root" --create voiced.conf 2>&1) && [ -z "$out" ] && [ -d "$root/etc/credstore" ]; then
  echo "check-systemd: tmpfiles: OK"
else
  echo "check-systemd: tmpfiles: FAILED" >&2
  printf '%s\n' "$out" >&2
  failed=1
fi

# 4. udev rules, where udevadm can check them
if udevadm verify --help >/dev/null 2>&1; then
  if udevadm verify udev/99-voiced.rules; then
    echo "check-systemd: udev rules: OK"
  else
    echo "check-systemd: udev rules: FAILED" >&2
    failed=1
  fi
else
  echo "check-systemd: udev rules: not checked (udevadm verify needs systemd 254 or later)"
fi

if [ "$failed" -ne 0 ]; then
  echo "check-systemd: FAILED" >&2
  exit 1
fi
echo "check-systemd: all checks passed"
