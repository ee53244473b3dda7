#!/usr/bin/env bash
# Installs whichever of the Debian packages named as arguments are missing (apt-get update
# once, only when something is). Used by scripts/setup.sh and scripts/setup-vm.sh.
#   scripts/apt-ensure.sh NAME PACKAGE...     (NAME prefixes the messages)
set -euo pipefail
name=$1; shift
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "$name: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "$name: all Debian packages present"
fi
