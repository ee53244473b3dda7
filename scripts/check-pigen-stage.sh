#!/usr/bin/env bash
# Checks image/stage-voiced against pi-gen's documented stage rules (pi-gen's README, "How the
# build process works"), since pi-gen itself cannot run here (it needs loop devices, binfmt and
# an arm64 emulator):
#   1. prerun.sh is executable and starts from the previous stage (copy_previous when ROOTFS_DIR
#      does not exist yet), as pi-gen's stages do;
#   2. EXPORT_IMAGE is there (pi-gen exports an image only for stages that have it) and parses;
#   3. everything else in the stage is a sub-stage directory NN-name (pi-gen runs only those);
#   4. a sub-stage holds only what pi-gen reads: NN-run.sh and NN-run-chroot.sh (executable),
#      NN-debconf, NN-packages, NN-packages-nr, NN-patches/, and files/;
#   5. the scripts parse, use no variables pi-gen does not set (the old VOICED_SRC/VOICED_BIN);
#   6. a dry run the way pi-gen's build.sh runs a stage (prerun.sh, then for each sub-stage the
#      numbered files in order), with pi-gen's copy_previous and on_chroot stubbed, installs the
#      .deb from files/ through on_chroot with apt-get, and fails without a .deb.
set -euo pipefail
cd "$(dirname "$0")/.."
stage=${1:-image/stage-voiced}     # another stage directory to check, for the check's own test
failed=0
fail() { echo "check-pigen-stage: FAILED: $*" >&2; failed=1; }
ok() { echo "check-pigen-stage: $*: OK"; }

# 1. prerun.sh
if [ -x "$stage/prerun.sh" ] && bash -n "$stage/prerun.sh" \
  && grep -Eq '^if \[ ! -d "\$\{ROOTFS_DIR\}" \]; then' "$stage/prerun.sh" && grep -Eq '^\s+copy_previous$' "$stage/prerun.sh"; then
  ok "prerun.sh copies the previous stage"
else
  fail "$stage/prerun.sh must be executable and run copy_previous when \${ROOTFS_DIR} does not exist"
fi

# 2. EXPORT_IMAGE
if [ -f "$stage/EXPORT_IMAGE" ] && bash -n "$stage/EXPORT_IMAGE" && grep -q 'IMG_SUFFIX=' "$stage/EXPORT_IMAGE"; then
  ok "EXPORT_IMAGE"
else
  fail "$stage/EXPORT_IMAGE is missing, does not parse or sets no IMG_SUFFIX"
fi

# 3. and 4. the layout
substages=0
for entry in "$stage"/* "$stage"/.[!.]*; do
  [ -e "$entry" ] || continue
  name=$(basename "$entry")
  case "$name" in
    prerun.sh | EXPORT_IMAGE | EXPORT_NOOBS | SKIP | SKIP_IMAGES) continue ;;
  esac
  if [ -d "$entry" ] && [[ "$name" =~ ^[0-9]{2}-[a-z0-9-]+$ ]]; then
    substages=$((substages + 1))
    for f in "$entry"/* "$entry"/.[!.]*; do
      [ -e "$f" ] || continue
      fname=$(basename "$f")
      case "$fname" in
        [0-9][0-9]-run.sh | [0-9][0-9]-run-chroot.sh)
          [ -x "$f" ] || fail "$f is not executable (pi-gen skips it)"
          head -1 "$f" | grep -q '^#!/bin/bash' || fail "$f does not start with #!/bin/bash"
          bash -n "$f" || fail "$f does not parse"
          ;;
        [0-9][0-9]-packages | [0-9][0-9]-packages-nr)
          if grep -v '^#' "$f" | tr -s ' \t' '\n' | sed '/^$/d' | grep -Ev '^[a-z0-9][a-z0-9+.-]+$' >&2; then
            fail "$f has entries that are not package names (above)"
          fi
          ;;
        [0-9][0-9]-debconf) ;;
        [0-9][0-9]-patches) [ -d "$f" ] || fail "$f must be a directory of quilt patches" ;;
        files) [ -d "$f" ] || fail "$f must be a directory" ;;
        *) fail "$f is not a file pi-gen runs or reads (NN-run.sh, NN-run-chroot.sh, NN-debconf, NN-packages[-nr], NN-patches, files)" ;;
      esac
    done
  else
    fail "$entry: pi-gen runs only sub-stage directories named NN-name in a stage"
  fi
done
[ "$substages" -gt 0 ] && ok "$substages sub-stage(s), each holding only what pi-gen reads" || fail "no sub-stage directory"

# 5. variables
if grep -rnE 'VOICED_(SRC|BIN)' "$stage" >&2; then
  fail "the stage uses variables pi-gen never sets (above)"
else
  ok "no variables pi-gen does not set"
fi

# 6. a dry run, as pi-gen's build.sh runs a stage
run_stage() { # run_stage STAGE_COPY WORK: prints what on_chroot was given
  local dir=$1 work=$2
  (
    set -e
    export WORK_DIR=$work STAGE_WORK_DIR=$work/stage-voiced ROOTFS_DIR=$work/stage-voiced/rootfs ARCH=arm64
    export PREV_ROOTFS_DIR=$work/stage2/rootfs
    copy_previous() { mkdir -p "$ROOTFS_DIR"; cp -a "$PREV_ROOTFS_DIR/." "$ROOTFS_DIR/"; }
    export CHROOT_LOG=$work/chroot.log
    on_chroot() { { echo "--- on_chroot"; cat; } >>"$CHROOT_LOG"; }
    export -f copy_previous on_chroot
    cd "$dir"
    # (set -e does not hold inside an `if`: every step's status is checked.)
    ./prerun.sh || exit 1
    for sub in [0-9][0-9]-*/; do
      pushd "$sub" >/dev/null
      for i in {00..99}; do
        [ ! -f "$i-packages" ] || { echo "--- packages"; cat "$i-packages"; } >>"$CHROOT_LOG"
        [ ! -x "$i-run.sh" ] || "./$i-run.sh" || exit 1
        [ ! -x "$i-run-chroot.sh" ] || on_chroot <"$i-run-chroot.sh" || exit 1
      done
      popd >/dev/null
    done
  )
}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for w in a b; do
  mkdir -p "$work/$w/stage2/rootfs/tmp"
  echo prev >"$work/$w/stage2/rootfs/marker"
done
cp -a "$stage" "$work/a/stage" && cp -a "$stage" "$work/b/stage"
echo 'not really a package' >"$work/a/stage/00-install-voiced/files/voiced_0.1.0_arm64.deb"
if run_stage "$work/a/stage" "$work/a" >"$work/a/out" 2>&1 \
  && [ -f "$work/a/stage-voiced/rootfs/marker" ] && [ -f "$work/a/stage-voiced/rootfs/tmp/voiced.deb" ] \
  && grep -q '^apt-get install -y /tmp/voiced.deb$' "$work/a/chroot.log"; then
  ok "dry run: the previous rootfs copied, the .deb from files/ installed with apt-get in on_chroot"
else
  fail "dry run did not install the .deb through on_chroot:"
  cat "$work/a/out" "$work/a/chroot.log" >&2 2>/dev/null || true
fi
if run_stage "$work/b/stage" "$work/b" >"$work/b/out" 2>&1; then
  fail "dry run without a .deb in files/ succeeded (it must stop the build)"
else
  ok "dry run without a .deb in files/ stops the build"
fi

if [ "$failed" -ne 0 ]; then
  echo "check-pigen-stage: FAILED" >&2
  exit 1
fi
echo "check-pigen-stage: all checks passed"
