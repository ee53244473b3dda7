#!/usr/bin/env bash
# Provisions one speaker: creates its login role (member of voiced_device) with a new random
# password, registers it in voiced.devices and prints the device id and the password once.
#   scripts/db-provision-device.sh DATABASE_URL ROLE_NAME [DEVICE_NAME]
# Run as the database owner (a role with CREATEROLE). Put the password on the speaker as the
# systemd credential `postgres_password` (see docs/fleet.md).
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 DATABASE_URL ROLE_NAME [DEVICE_NAME]" >&2
  exit 2
fi
url="$1"; role="$2"; name="${3:-$2}"
password="$(openssl rand -base64 33 | tr -d '\n/+=' | cut -c1-40)"
# The password goes in on stdin, not on the command line, so it never shows in `ps`
# (it is letters and digits only, so it needs no quoting).
device_id="$(psql "$url" -X -q -tA -v ON_ERROR_STOP=1 -v role="$role" -v name="$name" <<SQL
\\set pw '$password'
SELECT voiced.provision_device(:'role', :'name', :'pw');
SQL
)"
echo "device_id=$device_id"
echo "role=$role"
echo "password=$password"
