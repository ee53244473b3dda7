#!/usr/bin/env bash
# Builds gpio-sim (and the irq_sim it needs) out of tree for the image's kernel, for the system
# test: Debian's kernel has neither CONFIG_GPIO_SIM nor CONFIG_IRQ_SIM.
#   image/gpio-sim.sh ABI VERSION      # e.g. 6.1.0-50-amd64 6.1.176-1; prints the module directory
# Everything is cached in $VOICED_CI_CACHE/gpio-sim-ABI (default /var/cache/voiced-ci): the
# kernel headers of exactly that version, the three source files taken from linux-source, and
# the built .ko files. Old headers leave the archive when Debian publishes a new ABI, so they are
# kept together with the modules, keyed on the ABI.
set -euo pipefail

abi=${1:?usage: image/gpio-sim.sh ABI VERSION}
kversion=${2:?usage: image/gpio-sim.sh ABI VERSION}
series=$(cut -d. -f1-2 <<<"$abi")                  # 6.1
cache=${VOICED_CI_CACHE:-/var/cache/voiced-ci}/gpio-sim-$abi
log() { echo "gpio-sim: $*" >&2; }

if [ -f "$cache/modules/gpio-sim.ko" ] && [ -f "$cache/modules/irq_sim.ko" ]; then
  echo "$cache/modules"
  exit 0
fi
mkdir -p "$cache/debs"
t0=$(date +%s)

# 1. The headers (kept as .debs) and the three source files (the 140 MB source package is not kept).
headers=(linux-headers-"$abi" linux-headers-"${abi%-amd64}"-common linux-kbuild-"$series")
missing=()
for p in "${headers[@]}"; do
  ls "$cache/debs/${p}_${kversion}_"*.deb >/dev/null 2>&1 || missing+=("$p=$kversion")
done
if [ "${#missing[@]}" -gt 0 ] || [ ! -f "$cache/src/irq_sim.c" ]; then
  log "downloading ${missing[*]} linux-source-$series=$kversion"
  (cd "$cache/debs" && apt-get download "${missing[@]}" "linux-source-$series=$kversion" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2) \
    || { log "cannot download the $kversion kernel packages (gone from the archive? then the image's kernel must move on too)"; exit 1; }
  mkdir -p "$cache/src"
  dpkg-deb --fsys-tarfile "$cache/debs/linux-source-${series}_${kversion}_all.deb" \
    | tar -xO "./usr/src/linux-source-$series.tar.xz" \
    | tar -xJ -C "$cache/src" --strip-components=3 \
        "linux-source-$series/drivers/gpio/gpio-sim.c" "linux-source-$series/drivers/gpio/gpiolib.h" \
        "linux-source-$series/kernel/irq/irq_sim.c"
  rm -f "$cache/debs/linux-source-"*.deb
fi

# 2. The headers, unpacked privately (nothing is installed on the host); their Makefile names the
# common headers by absolute path.
rm -rf "$cache/kroot" "$cache/build"
mkdir -p "$cache/kroot" "$cache/build"
for d in "$cache/debs/"*.deb; do dpkg-deb -x "$d" "$cache/kroot"; done
kdir=$cache/kroot/usr/src/linux-headers-$abi
sed -i "s|^include /usr/src/|include $cache/kroot/usr/src/|" "$kdir/Makefile"

# 3. irq_sim as a module: irq_to_desc() is not exported to modules, so dispatch through the
# domain (what later kernels do), and declare the licence modpost asks for.
cp "$cache/src/gpio-sim.c" "$cache/src/gpiolib.h" "$cache/src/irq_sim.c" "$cache/build/"
b=$cache/build
sed -i -e '/^\t\tirqnum = irq_find_mapping(work_ctx->domain, offset);$/d' \
  -e 's|^\t\thandle_simple_irq(irq_to_desc(irqnum));$|\t\tgeneric_handle_domain_irq(work_ctx->domain, offset);|' \
  -e '/^\tint irqnum;$/d' "$b/irq_sim.c"
grep -q 'generic_handle_domain_irq(work_ctx->domain, offset)' "$b/irq_sim.c" \
  || { log "irq_sim.c of $kversion does not look as expected: adapt the patch in image/gpio-sim.sh"; exit 1; }
printf '\nMODULE_LICENSE("GPL");\nMODULE_DESCRIPTION("Interrupt simulator (built out of tree for the voiced system test)");\n' >>"$b/irq_sim.c"
echo 'obj-m += irq_sim.o gpio-sim.o' >"$b/Kbuild"
make -s -C "$kdir" M="$b" modules >"$b/make.log" 2>&1 || { cat "$b/make.log" >&2; exit 1; }
if grep -E 'WARNING|error' "$b/make.log" | grep -v 'Skipping BTF' >&2; then
  log "the module build has warnings or errors (above)"
  exit 1
fi
mkdir -p "$cache/modules"
cp "$b/irq_sim.ko" "$b/gpio-sim.ko" "$cache/modules/"
rm -rf "$cache/kroot" "$b"
log "built for $abi in $(( $(date +%s) - t0 )) s"
echo "$cache/modules"
