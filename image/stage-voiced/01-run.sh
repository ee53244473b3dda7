#!/bin/bash -e
# pi-gen stage: install voiced into the image's root filesystem.
# VOICED_SRC: this repository; VOICED_BIN: a release build of voiced and voicectl for the image's architecture.
DESTDIR="${ROOTFS_DIR}" "${VOICED_SRC}/scripts/install.sh" --no-build --bin "${VOICED_BIN}"
on_chroot << CHROOT
systemd-sysusers voiced.conf
systemctl enable voiced
CHROOT
