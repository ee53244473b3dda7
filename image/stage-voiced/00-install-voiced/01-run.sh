#!/bin/bash -e
# Installs the voiced package (built by scripts/package.sh for the image's architecture and
# copied into files/ beforehand, see image/README.md) with apt, which pulls in its Depends:.
# The package's postinst creates the voiced user, applies its tmpfiles entries and enables
# voiced.service; the speaker's API keys are added per device, never baked into the image.
shopt -s nullglob
# ARCH is pi-gen's (arm64 for 64-bit Raspberry Pi OS, armhf for 32-bit).
debs=(files/voiced_*_"${ARCH:-arm64}".deb)
if [ "${#debs[@]}" -ne 1 ]; then
	echo "stage-voiced: expected exactly one voiced_*_ARCH.deb in $(pwd)/files, found ${#debs[@]}" >&2
	exit 1
fi
install -m 644 "${debs[0]}" "${ROOTFS_DIR}/tmp/voiced.deb"
on_chroot << CHROOT
apt-get install -y /tmp/voiced.deb
rm -f /tmp/voiced.deb
systemctl is-enabled voiced
CHROOT
