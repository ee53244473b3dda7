#!/usr/bin/env bash
# Builds a Debian bookworm disk image (amd64, for QEMU) with the voiced package installed.
#   image/build.sh --deb out/voiced_0.1.0_amd64.deb [--out DIR] [--overlay DIR]
# Writes DIR (default out/image) /root.img (raw ext4, the root filesystem: boot it with
# root=/dev/vda), /vmlinuz and /initrd.img (the image's kernel, for qemu -kernel/-initrd), /abi
# (the kernel ABI, e.g. 6.1.0-50-amd64) and /kernel-version (its Debian version).
# --overlay DIR copies DIR's tree over the root filesystem after the package is installed (the
# system test adds its fake cloud and test units this way; the user's image has none).
#
# Nothing is mounted: the root filesystem is a debootstrap directory (debootstrap needs root)
# turned into an ext4 image with `mkfs.ext4 -d`. The base (debootstrap of image/packages.list,
# unpacked and configured) is cached in $VOICED_CI_CACHE (default /var/cache/voiced-ci), keyed
# on the package list and the kernel ABI that bookworm's linux-image-amd64 points at, so it is
# downloaded and unpacked once; an image whose base, package and overlay are unchanged is not
# rebuilt at all.
set -euo pipefail
cd "$(dirname "$0")/.."

deb=""
out=out/image
overlay=""
base_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --deb) deb="$2"; shift ;;
    --out) out="$2"; shift ;;
    --overlay) overlay="$2"; shift ;;
    --base-only) base_only=1 ;;
    *) echo "image: unknown option $1 (options: --deb FILE, --out DIR, --overlay DIR, --base-only)" >&2; exit 64 ;;
  esac
  shift
done
if [ "$base_only" = 0 ] && { [ -z "$deb" ] || [ ! -f "$deb" ]; }; then
  echo "image: --deb FILE is required (scripts/package.sh builds it)" >&2
  exit 64
fi
[ "$(id -u)" = 0 ] || { echo "image: debootstrap and chroot need root" >&2; exit 1; }
for tool in debootstrap mkfs.ext4 apt-cache sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || { echo "image: $tool is missing: run scripts/setup-vm.sh" >&2; exit 1; }
done

suite=bookworm
mirror=${VOICED_DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache=${VOICED_CI_CACHE:-/var/cache/voiced-ci}
mkdir -p "$cache" "$out"
log() { echo "image: $*"; }

# The kernel the base will get: bookworm main's linux-image-amd64 (debootstrap takes no
# security updates), from the host's apt lists.
kernel_of_suite() {
  apt-cache madison linux-image-amd64 | awk -F'|' -v s=" $suite/main" 'index($3, s) { gsub(/ /, "", $2); print $2; exit }'
}
kversion=$(kernel_of_suite)
if [ -z "$kversion" ]; then
  apt-get update -qq
  kversion=$(kernel_of_suite)
fi
[ -n "$kversion" ] || { echo "image: the host's apt lists have no $suite/main linux-image-amd64 (is $suite/main in its sources?)" >&2; exit 1; }
abi=$(apt-cache show "linux-image-amd64=$kversion" | sed -n 's/^Depends:.*linux-image-\([0-9][^ ]*-amd64\) .*/\1/p' | head -1)
[ -n "$abi" ] || { echo "image: no kernel ABI in linux-image-amd64 $kversion's Depends" >&2; exit 1; }

packages=$(grep -v '^#' image/packages.list | tr -s ' \n' '\n' | sed '/^$/d' | LC_ALL=C sort -u | paste -sd, -)
# Bump base_recipe when the base's configuration below changes.
base_recipe=1
key=$(printf '%s\n' "$suite" "$mirror" "$packages" "$base_recipe" | sha256sum | cut -c1-12)
base=$cache/base-$abi-$key
log "kernel $abi ($kversion); base $base"

# 1. The debootstrap tarball (the downloaded .debs) and the unpacked, configured base rootfs.
if [ ! -f "$base/done" ]; then
  t0=$(date +%s)
  rm -rf "$base"
  mkdir -p "$base"
  log "downloading the base ($suite minbase + $(tr ',' '\n' <<<"$packages" | wc -l) packages)"
  debootstrap --variant=minbase --arch=amd64 --include="$packages" \
    --make-tarball="$base/debootstrap.tgz" "$suite" "$base/tarball-work" "$mirror" >"$base/debootstrap.log" 2>&1 \
    || { tail -20 "$base/debootstrap.log" >&2; exit 1; }
  rm -rf "$base/tarball-work"
  tar -tzf "$base/debootstrap.tgz" >"$base/debootstrap.list"
  if ! grep -q "linux-image-${abi}_${kversion}_amd64.deb" "$base/debootstrap.list"; then
    echo "image: the mirror's $suite has another kernel than the host's apt lists ($abi $kversion): run apt-get update" >&2
    rm -rf "$base"
    exit 1
  fi
  log "unpacking the base"
  debootstrap --variant=minbase --arch=amd64 --include="$packages" \
    --unpack-tarball="$base/debootstrap.tgz" "$suite" "$base/rootfs" "$mirror" >>"$base/debootstrap.log" 2>&1 \
    || { tail -20 "$base/debootstrap.log" >&2; exit 1; }
  r=$base/rootfs
  echo speaker >"$r/etc/hostname"
  printf '/dev/vda / ext4 rw,errors=remount-ro 0 1\n' >"$r/etc/fstab"
  : >"$r/etc/machine-id"                       # a new id on first boot, as a flashed image does
  rm -f "$r"/var/cache/apt/archives/*.deb "$r"/var/lib/apt/lists/*_Packages
  [ -f "$r/boot/vmlinuz-$abi" ] && [ -f "$r/boot/initrd.img-$abi" ] \
    || { echo "image: the base has no /boot/vmlinuz-$abi or initrd" >&2; exit 1; }
  echo "$abi" >"$base/abi"
  echo "$kversion" >"$base/kernel-version"
  touch "$base/done"
  log "base ready in $(( $(date +%s) - t0 )) s"
  # Older bases (another ABI or package list) are of no further use.
  find "$cache" -maxdepth 1 -name 'base-*' ! -path "$base" -exec rm -rf {} +
fi

if [ "$base_only" = 1 ]; then
  echo "$base"
  exit 0
fi

# 2. The image: the base, the package installed with dpkg in a chroot, the overlay, mkfs.ext4 -d.
overlay_sum=none
if [ -n "$overlay" ]; then
  overlay_sum=$(cd "$overlay" && find . -printf '%p %m %U %G %l\n' | LC_ALL=C sort | sha256sum | cut -c1-16)-$(
    cd "$overlay" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r cat | sha256sum | cut -c1-16)
fi
image_key="$(basename "$base") $(sha256sum "$deb" | cut -c1-16) $overlay_sum"
if [ -f "$out/root.img" ] && [ "$(cat "$out/key" 2>/dev/null)" = "$image_key" ]; then
  log "unchanged: $out/root.img"
  exit 0
fi
t0=$(date +%s)
rm -f "$out/key" "$out/root.img"
work=$(mktemp -d "$cache/image.XXXXXX")
trap 'rm -rf "$work"' EXIT
r=$work/rootfs
cp -a "$base/rootfs" "$r"
cp "$deb" "$r/tmp/voiced.deb"
if ! chroot "$r" dpkg -i /tmp/voiced.deb >"$out/dpkg-install.log" 2>&1 \
  || [ "$(chroot "$r" dpkg-query -W -f='${Status}' voiced)" != "install ok installed" ]; then
  echo "image: the package does not install on the image:" >&2
  cat "$out/dpkg-install.log" >&2
  exit 1
fi
rm -f "$r/tmp/voiced.deb"
log "installed $(basename "$deb")"
if [ -n "$overlay" ]; then
  cp -a "$overlay/." "$r/"
  [ ! -d "$r/lib/modules/$abi/extra" ] || chroot "$r" depmod -a "$abi"
  log "overlay $overlay applied"
fi
cp "$r/boot/vmlinuz-$abi" "$out/vmlinuz"
cp "$r/boot/initrd.img-$abi" "$out/initrd.img"
mkfs.ext4 -q -F -L voiced-root -d "$r" "$out/root.img" 1536M
cp "$base/abi" "$base/kernel-version" "$out/"
echo "$image_key" >"$out/key"
log "built $out/root.img in $(( $(date +%s) - t0 )) s"
