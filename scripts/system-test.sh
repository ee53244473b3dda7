#!/usr/bin/env bash
# The system test: voiced as the packaged, hardened unit under real systemd in a QEMU VM (TCG),
# with a real ALSA card (snd-aloop) and a real GPIO chip (gpio-sim, built out of tree for the
# image's kernel), the fake cloud on loopback inside the VM, no network.
#   scripts/system-test.sh                 # every check (what CI runs)
#   VOICED_CI_CHECKS=1,6,7 scripts/system-test.sh   # development only: some checks
# Prints one line per check (PASS/FAIL and why) and the figures measured, and exits non-zero if
# any check fails, or if QEMU cannot run here. Needs root (debootstrap, chroot). Caches in
# $VOICED_CI_CACHE (default /var/cache/voiced-ci): see docs/appliance.md.
# The checks (numbers as in docs/appliance.md): 1 install and boot, 2 a conversation through
# the kernel audio driver, 3 LEDs, 4 journald fields, 5 watchdog, 6 udev, 7 credentials,
# 8 voicectl permissions, 9 shutdown, 10 mute and device loss, 11 control socket under TasksMax.
set -euo pipefail
cd "$(dirname "$0")/.."
t_start=$(date +%s)
all_checks=1,2,3,4,5,6,7,8,9,10,11
checks=${VOICED_CI_CHECKS:-$all_checks}
dir=out/system-test
scratch=${VOICED_RELEASE_SCRATCH:-.build-release}
log() { echo "system-test: $*"; }
fail_early() { echo "system-test: FAIL: $*" >&2; echo "system-test: 0 passed, 1 failed"; exit 1; }

[ "$(id -u)" = 0 ] || fail_early "needs root (debootstrap and chroot build the image)"
scripts/setup-vm.sh
if ! command -v qemu-system-x86_64 >/dev/null 2>&1; then
  fail_early "QEMU cannot run here: qemu-system-x86_64 is missing after scripts/setup-vm.sh"
fi
if [ "$(uname -m)" != x86_64 ]; then
  fail_early "QEMU cannot run the amd64 image here: this host is $(uname -m); the system test runs on amd64 only"
fi
if ! qemu-system-x86_64 --version >/dev/null 2>&1; then
  fail_early "QEMU cannot run here: $(qemu-system-x86_64 --version 2>&1 | head -2)"
fi
rm -rf "$dir/guest" "$dir/overlay" "$dir/expected"
mkdir -p "$dir/guest" "$dir/overlay" "$dir/expected"

# 1. The package (release build, lintian) and the fake cloud (test only, not in the package).
t=$(date +%s)
deb=$(scripts/package.sh --out "$dir/deb" | tail -1)
log "package: $deb ($(( $(date +%s) - t )) s)"
t=$(date +%s)
swift build -c release --static-swift-stdlib --scratch-path "$scratch" --product voiced-fakecloud >/dev/null
fakecloud=$scratch/release/voiced-fakecloud
log "fake cloud built ($(( $(date +%s) - t )) s)"

# 2. The base image's kernel, and gpio-sim for it.
t=$(date +%s)
base=$(image/build.sh --base-only | tail -1)
abi=$(cat "$base/abi")
modules=$(image/gpio-sim.sh "$abi" "$(cat "$base/kernel-version")")
log "base $base, gpio-sim for $abi ($(( $(date +%s) - t )) s)"

# 3. The test's overlay: fake cloud, units, devices, config, fake keys, the user's speech.
o=$dir/overlay
s=image/system-test
install -d -m 0755 "$o/usr/local/bin" "$o/usr/local/lib/voiced-ci" "$o/etc/systemd/system/multi-user.target.wants" \
  "$o/etc/voiced" "$o/usr/lib/modules/$abi/extra"
install -d -m 0700 "$o/etc/credstore"
install -m 0755 "$fakecloud" "$o/usr/local/bin/voiced-fakecloud"
strip "$o/usr/local/bin/voiced-fakecloud"
install -m 0755 "$s/guest.sh" "$s/devices.sh" "$o/usr/local/lib/voiced-ci/"
install -m 0644 "$s/fakecloud.json" "$o/usr/local/lib/voiced-ci/"
gcc -static -O2 -Wall -o "$o/usr/local/lib/voiced-ci/idle-clients" "$s/idle-clients.c"
install -m 0644 "$s/voiced.toml" "$o/etc/voiced/voiced.toml"
install -m 0644 "$modules/gpio-sim.ko" "$modules/irq_sim.ko" "$o/usr/lib/modules/$abi/extra/"
for unit in voiced-ci-devices voiced-fakecloud voiced-ci; do
  install -m 0644 "$s/$unit.service" "$o/etc/systemd/system/"
  ln -sf "../$unit.service" "$o/etc/systemd/system/multi-user.target.wants/$unit.service"
done
for getty in serial-getty@ttyS0 getty@tty1 getty-static; do    # the serial console is the test's
  ln -sf /dev/null "$o/etc/systemd/system/$getty.service"
done
# Fake keys (the fake cloud's script requires exactly these); check 7 looks for them everywhere.
printf '%s' dg-test-key-7f3a9c41 >"$o/etc/credstore/voiced.deepgram_api_key"
printf '%s' sk-test-key-51b2e8d0 >"$o/etc/credstore/voiced.openai_api_key"
printf '%s' el-test-key-c4d913aa >"$o/etc/credstore/voiced.elevenlabs_api_key"
printf '%s' pg-test-password-88e1 >"$o/etc/credstore/voiced.postgres_password"
chmod 0600 "$o"/etc/credstore/*
# The user's speech (espeak-ng, another voice than the answers'), and the answers as the fake
# cloud speaks them, for the expected lengths.
ex=$dir/expected
say() { espeak-ng -v "$1" -s "$2" -w "$3" "$4"; }
say en-us+m3 165 "$ex/u1.wav" "What's the weather like today?"
say en-us+m3 165 "$ex/u2.wav" "Book a table for four on Monday."
say en-us+m3 165 "$ex/u3.wav" "Actually, make it Tuesday."
say en-us+m3 165 "$ex/u4.wav" "Tell me about the Eiffel Tower."
say en-us+m3 165 "$ex/u5.wav" "Is it going to rain tomorrow?"
say en-us+m3 165 "$ex/u6.wav" "What time is it?"
say en-us+m3 165 "$ex/u7.wav" "Thank you."
python3 - "$ex" "$o/usr/local/lib/voiced-ci" <<'EOF'
import sys, wave
src, dst = sys.argv[1], sys.argv[2]
def read(name):
    with wave.open(f"{src}/{name}.wav") as w:
        return w.getparams(), w.readframes(w.getnframes())
def write(name, params, frames):
    with wave.open(f"{dst}/{name}.wav", "wb") as w:
        w.setparams(params); w.writeframes(frames)
def silence(params, seconds):
    return b"\0" * (int(params.framerate * seconds) * params.sampwidth)
p, u1 = read("u1"); _, u2 = read("u2"); _, u3 = read("u3"); _, u4 = read("u4")
_, u5 = read("u5"); _, u6 = read("u6"); _, u7 = read("u7")
tail = silence(p, 1.0)
write("user1", p, u1 + tail)
write("user2", p, u2 + silence(p, 0.75) + u3 + tail)   # the correction in the next breath
write("user3", p, u4 + tail)
write("user4", p, u5 + tail)
write("user5", p, u6 + tail)
write("user6", p, u7 + tail)
EOF
say en-us 170 "$ex/reply1.wav" "It's sunny and twenty two degrees. A light breeze comes in this afternoon."
say en-us 170 "$ex/reply2.wav" "Booked for Monday at seven."
say en-us 170 "$ex/reply3.wav" "Done. Your table for four is booked for Tuesday."

# 4. The image: base + package + overlay (cached when nothing changed).
t=$(date +%s)
image/build.sh --deb "$deb" --overlay "$o" --out "$dir/image"
log "image ready ($(( $(date +%s) - t )) s)"

# 5. Boot it. The VM runs the checks (voiced-ci.service) and powers off; results come back
# through 9p, progress on the serial console.
log "booting the VM (TCG; the checks take several minutes)"
t=$(date +%s)
vm_status=0
timeout 1500 qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m 1024 \
  -display none -monitor none -serial "file:$dir/console.log" -no-reboot -nic none \
  -kernel "$dir/image/vmlinuz" -initrd "$dir/image/initrd.img" \
  -append "root=/dev/vda rw console=ttyS0 loglevel=4 systemd.show_status=false voiced_ci.checks=$checks" \
  -drive "file=$dir/image/root.img,format=raw,if=virtio,snapshot=on" \
  -virtfs "local,path=$dir/guest,mount_tag=host0,security_model=none" || vm_status=$?
vm_seconds=$(( $(date +%s) - t ))
log "VM ran $vm_seconds s (qemu exit $vm_status)"

# 6. The results: the VM's own checks, then the host's analysis of its recordings.
lines=$(grep -E '^(CHECK|FIGURE) ' "$dir/guest/results.txt" 2>/dev/null || true)
if [[ ",$checks," == *,2,* ]] || [[ ",$checks," == *,3,* ]]; then
  lines+=$'\n'$(python3 image/system-test/analyse.py "$dir/guest" "$ex")
fi
passed=0 failed=0
IFS=',' read -ra wanted <<<"$checks"
for n in "${wanted[@]}"; do
  got=$(grep -E "^CHECK $n(t)? " <<<"$lines" || true)
  if [ -z "$got" ]; then
    echo "FAIL $n: no result (the VM stopped before it; see $dir/console.log and $dir/guest/guest.log)"
    failed=$((failed + 1))
    continue
  fi
  while read -r _ id status reason; do
    echo "$status $id: $reason"
    if [ "$status" = PASS ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  done <<<"$got"
done
echo "figures:"
grep '^FIGURE ' <<<"$lines" | while read -r _ name value; do echo "  $name = $value"; done
echo "  vm_wall_s = $vm_seconds"
echo "  system_test_total_s = $(( $(date +%s) - t_start ))"
[ -f "$dir/guest/done" ] || { echo "FAIL vm: the checks did not run to the end (qemu exit $vm_status): see $dir/console.log"; failed=$((failed + 1)); }
echo "system-test: $passed passed, $failed failed"
[ "$failed" = 0 ]
