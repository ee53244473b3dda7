#!/usr/bin/env bash
# Installs the Debian packages that the package build (scripts/package.sh), the image build
# (image/build.sh) and the VM system test (scripts/system-test.sh) need on the build host.
# Idempotent: safe to rerun. Runs as root on Debian 12 (bookworm). The image's own packages
# (alsa-utils, gpiod, ...) come from debootstrap, not from here.
set -euo pipefail

PACKAGES=(
  dpkg-dev              # dpkg-deb, dpkg-shlibdeps: builds the .deb and computes its Depends:
  fakeroot              # builds the .deb with root-owned files without being root
  binutils              # strip, objcopy: stripped binaries, debug symbols kept aside
  lintian               # checks the .deb against Debian policy
  debootstrap           # the image's bookworm root filesystem, without mounting anything
  e2fsprogs             # mkfs.ext4 -d (an image from a directory) and debugfs (reads results back)
  qemu-system-x86       # boots the image (TCG: no KVM needed)
  qemu-utils            # qemu-img
  espeak-ng             # the user's speech the system test plays into the loopback card
  python3               # the system test's audio analysis (standard library only)
  gcc                   # builds gpio-sim out of tree for the image's kernel, and the test's helper
  make                  # ... with kbuild
  xz-utils              # unpacks the three gpio-sim source files from linux-source
)

"$(dirname "$0")/apt-ensure.sh" setup-vm "${PACKAGES[@]}"
