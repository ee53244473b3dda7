#!/usr/bin/env bash
# Builds the Debian package voiced_<version>_<arch>.deb with dpkg-deb, then checks it with lintian.
#   scripts/package.sh                  # release build in .build-release, package into out/
#   scripts/package.sh --no-build       # package the binaries already built in .build-release
#   scripts/package.sh --no-lintian     # skip the lintian check (it still runs by default)
#   scripts/package.sh --out DIR        # where the .deb goes (default: out/)
# The architecture is the build machine's (dpkg --print-architecture): amd64 here, arm64 on an
# arm64 builder with the same script (docs/appliance.md). The binaries link the Swift standard
# library statically (--static-swift-stdlib), so nothing from the toolchain is needed at run
# time; Depends: comes from dpkg-shlibdeps on the built binaries. Stripped binaries go in the
# package; their symbols stay beside it (out/debug/*.debug, linked by .gnu_debuglink).
# Prints the path of the .deb on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."

build=1
lint=1
out=out
scratch=${VOICED_RELEASE_SCRATCH:-.build-release}
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0 ;;
    --no-lintian) lint=0 ;;
    --out) out="$2"; shift ;;
    *) echo "package: unknown option $1 (options: --no-build, --no-lintian, --out DIR)" >&2; exit 64 ;;
  esac
  shift
done

for tool in dpkg-deb dpkg-shlibdeps fakeroot objcopy strip; do
  command -v "$tool" >/dev/null 2>&1 || { echo "package: $tool is missing: run scripts/setup-vm.sh" >&2; exit 1; }
done
if [ "$lint" = 1 ] && ! command -v lintian >/dev/null 2>&1; then
  echo "package: lintian is missing: run scripts/setup-vm.sh" >&2
  exit 1
fi

version=$(sed -n 's/^ *static let number = "\([0-9][0-9A-Za-z.+~]*\)".*/\1/p' Sources/voiced/Voiced.swift)
[ -n "$version" ] || { echo "package: no version in Sources/voiced/Voiced.swift (VoicedVersion.number)" >&2; exit 1; }
arch=$(dpkg --print-architecture)
maintainer=${VOICED_MAINTAINER:-voiced maintainers <maintainers@voiced.example.org>}
# Reproducible timestamps: the last commit's time (or now, outside git).
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}

# The shipped products only; the rest of the package (tests, the fake cloud, the bench) is not built here.
swift_flags=(-c release --static-swift-stdlib --scratch-path "$scratch")
if [ "$build" = 1 ]; then
  for product in voiced voicectl; do
    echo "package: swift build ${swift_flags[*]} --product $product"
    swift build "${swift_flags[@]}" --product "$product"
  done
fi
bin=$scratch/release          # SwiftPM's link to the configuration's bin directory
for b in voiced voicectl; do
  [ -x "$bin/$b" ] || { echo "package: $bin/$b is not built (run without --no-build)" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root/DEBIAN" "$out/debug"

# Binaries: stripped, with their symbols kept aside.
install -d "$root/usr/bin"
for b in voiced voicectl; do
  objcopy --only-keep-debug "$bin/$b" "$out/debug/$b.debug"
  install -m 0755 "$bin/$b" "$root/usr/bin/$b"
  strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/bin/$b"
  (cd "$out/debug" && objcopy --add-gnu-debuglink="$b.debug" "$root/usr/bin/$b")
done
# Nothing of the toolchain may be needed at run time.
if ldd "$root/usr/bin/voiced" "$root/usr/bin/voicectl" 2>/dev/null | grep -E 'libswift|libFoundation|libdispatch|/opt/swift|not found'; then
  echo "package: the binaries still link the Swift runtime dynamically (see above)" >&2
  exit 1
fi

install -D -m 0644 systemd/voiced.service "$root/usr/lib/systemd/system/voiced.service"
install -D -m 0644 systemd/voiced.sysusers "$root/usr/lib/sysusers.d/voiced.conf"
install -D -m 0644 systemd/voiced.tmpfiles "$root/usr/lib/tmpfiles.d/voiced.conf"
install -D -m 0644 udev/99-voiced.rules "$root/usr/lib/udev/rules.d/99-voiced.rules"
install -D -m 0644 config/voiced.toml "$root/etc/voiced/voiced.toml"
install -d "$root/usr/share/bash-completion/completions" "$root/usr/share/zsh/vendor-completions" \
  "$root/usr/share/fish/vendor_completions.d"
# (bash-completion sources the file: no #! line.)
"$bin/voicectl" --generate-completion-script bash | sed '1{/^#!/d}' >"$root/usr/share/bash-completion/completions/voicectl"
"$bin/voicectl" --generate-completion-script zsh >"$root/usr/share/zsh/vendor-completions/_voicectl"
"$bin/voicectl" --generate-completion-script fish >"$root/usr/share/fish/vendor_completions.d/voicectl.fish"
chmod 0644 "$root"/usr/share/*/*/*voicectl*

# Manual pages, from the commands' own --help (swift-argument-parser), so they cannot drift.
manpage() { # manpage NAME SUMMARY SUBCOMMAND...
  local name=$1 summary=$2 sub
  shift 2
  roff() { sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\&\1/"; }
  {
    echo ".TH ${name^^} 1 \"$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)\" \"voiced $version\" \"User Commands\""
    echo ".SH NAME"
    echo "$name \\- $summary"
    echo ".SH DESCRIPTION"
    echo ".nf"
    "$bin/$name" --help | roff
    echo ".fi"
    for sub in "$@"; do
      echo ".SH \"$name $sub\""
      echo ".nf"
      "$bin/$name" help $sub | roff
      echo ".fi"
    done
    echo ".SH SEE ALSO"
    echo "/usr/share/doc/voiced/operations.md.gz, /usr/share/doc/voiced/README.md.gz"
  } | gzip -9n >"$root/usr/share/man/man1/$name.1.gz"
}
install -d "$root/usr/share/man/man1"
manpage voiced "the voice assistant daemon of the voiced smart speaker" run simulate print-default-config
manpage voicectl "see and steer a running voiced" status watch settings history metrics wake interrupt say mute
chmod 0644 "$root"/usr/share/man/man1/*

doc=$root/usr/share/doc/voiced
install -d "$doc"
for f in README.md docs/operations.md docs/fleet.md docs/telemetry.md docs/turn-taking.md; do
  install -m 0644 "$f" "$doc/"
  [ "$(stat -c %s "$doc/$(basename "$f")")" -lt 4096 ] || gzip -9n "$doc/$(basename "$f")"
done
cat >"$doc/copyright" <<'EOF'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: voiced
Comment: The smart speaker's voice daemon. The binaries link the Swift standard library
 (Apache-2.0 with Runtime Library Exception) and swift-log, swift-argument-parser,
 swift-service-lifecycle, swift-nio, swift-nio-ssl (with BoringSSL), swift-websocket and
 swift-http-types (Apache-2.0) statically.

Files: *
Copyright: 2026 The voiced authors
License: Apache-2.0
 On Debian systems, the full text of the Apache License, Version 2.0 can be found in
 /usr/share/common-licenses/Apache-2.0.
EOF
{
  echo "voiced ($version) bookworm; urgency=medium"
  echo
  echo "  * Built from $(git rev-parse --short HEAD 2>/dev/null || echo 'a source tree outside git')."
  echo
  echo " -- $maintainer  $(date -R -u -d "@$SOURCE_DATE_EPOCH")"
} >"$doc/changelog"
gzip -9n "$doc/changelog"

# Maintainer scripts: what debhelper's dh_installsysusers, dh_installtmpfiles and
# dh_installsystemd generate for a daemon, written out (the project has no debian/ source tree).
cp packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm "$root/DEBIAN/"
chmod 0755 "$root/DEBIAN/postinst" "$root/DEBIAN/prerm" "$root/DEBIAN/postrm"
echo /etc/voiced/voiced.toml >"$root/DEBIAN/conffiles"

# Depends: the shared libraries the binaries link, with the versions their shlibs files give
# (dpkg-shlibdeps wants a debian/control to read; a minimal one is enough).
mkdir -p "$work/src/debian"
printf 'Source: voiced\n\nPackage: voiced\nArchitecture: any\n' >"$work/src/debian/control"
shlibs=$(cd "$work/src" && dpkg-shlibdeps -O -e"$root/usr/bin/voiced" -e"$root/usr/bin/voicectl" 2>"$work/shlibdeps.err" \
  | sed -n 's/^shlibs:Depends=//p') || { cat "$work/shlibdeps.err" >&2; exit 1; }
[ -n "$shlibs" ] || { echo "package: dpkg-shlibdeps found no libraries" >&2; cat "$work/shlibdeps.err" >&2; exit 1; }

installed_size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s#@MAINTAINER@#$maintainer#" -e "s/@SHLIBS@/$shlibs/" \
  -e "s/@SIZE@/$installed_size/" packaging/debian/control.in >"$root/DEBIAN/control"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z \
  | xargs -0 md5sum >DEBIAN/md5sums)
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"
find "$root" -type d -exec chmod 0755 {} +
find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

deb="$out/voiced_${version}_${arch}.deb"
fakeroot dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "package: built $deb ($(du -h "$deb" | cut -f1); Depends: $(sed -n 's/^Depends: //p' "$root/DEBIAN/control"))"

if [ "$lint" = 1 ]; then
  # No errors and no warnings (none is overridden; docs/appliance.md lists the info-level tags).
  lint_status=0
  lintian --tag-display-limit 0 "$deb" >"$work/lintian.out" 2>&1 || lint_status=$?
  if grep -Eq '^[EW]: ' "$work/lintian.out" || { [ "$lint_status" != 0 ] && [ "$lint_status" != 2 ]; }; then
    echo "package: lintian: FAILED (exit $lint_status):" >&2
    cat "$work/lintian.out" >&2
    exit 1
  fi
  echo "package: lintian: no errors, no warnings"
fi
echo "$deb"
