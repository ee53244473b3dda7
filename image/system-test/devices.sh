#!/bin/bash
# Creates the test's devices (voiced-ci-devices.service). The card is renamed "voiced" by the
# package's udev rules; the chip gets the gpio group from them.
set -euo pipefail
modprobe snd-aloop pcm_substreams=2
modprobe gpio-sim
c=/sys/kernel/config/gpio-sim/voiced
mkdir -p "$c/bank0"
echo 4 >"$c/bank0/num_lines"
echo voiced-sim >"$c/bank0/label"
for i in 0 1 2 3; do mkdir -p "$c/bank0/line$i"; done
echo led-red >"$c/bank0/line0/name"
echo led-green >"$c/bank0/line1/name"
echo led-blue >"$c/bank0/line2/name"
echo button >"$c/bank0/line3/name"
echo 1 >"$c/live"
udevadm settle --timeout=30
echo "devices: card $(cat /proc/asound/voiced/id 2>/dev/null || echo '?') chip $(cat "$c/bank0/chip_name") ($(cat "$c/dev_name"))"
