#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL server on loopback, then removes the server.
#   scripts/with-postgres.sh COMMAND [ARGS...]
# Installs PostgreSQL from Debian if it is missing (idempotent), creates a cluster with initdb
# in a temporary directory, serves it with TLS (a CA and a server certificate for 127.0.0.1
# made for the occasion) on a free port of 127.0.0.1 only, and exports:
#   VOICED_TEST_POSTGRES_URL   superuser URL, sslmode=verify-full against the test CA
#   VOICED_TEST_POSTGRES_CA    the test CA certificate (PEM)
# The cluster is stopped and deleted when the command ends, whatever its outcome; the
# command's exit status is this script's.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -eq 0 ]; then
  echo "usage: $0 COMMAND [ARGS...]" >&2
  exit 2
fi

find_bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
bindir="$(find_bindir)"
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ] || ! command -v psql >/dev/null || ! command -v openssl >/dev/null; then
  echo "with-postgres: installing postgresql from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends postgresql postgresql-client openssl >/dev/null
  bindir="$(find_bindir)"
fi

# initdb refuses to run as root: the cluster belongs to the `postgres` OS user then.
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

tmp="$(mktemp -d /tmp/voiced-pg.XXXXXX)"
data="$tmp/data"
cleanup() {
  status=$?
  if [ -f "$data/postmaster.pid" ]; then as_owner "$bindir/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true; fi
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
[ "$(id -u)" = 0 ] && chown postgres: "$tmp"
chmod 755 "$tmp"

password="$(openssl rand -hex 16)"
printf '%s\n' "$password" > "$tmp/pwfile"
[ "$(id -u)" = 0 ] && chown postgres: "$tmp/pwfile"
as_owner "$bindir/initdb" -D "$data" -U postgres --pwfile="$tmp/pwfile" -A scram-sha-256 -E UTF8 --no-locale >"$tmp/initdb.log" 2>&1 \
  || { cat "$tmp/initdb.log" >&2; exit 1; }
rm -f "$tmp/pwfile"

# A CA and a server certificate for 127.0.0.1, so the tests connect with sslmode=verify-full.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=voiced test CA" \
  -keyout "$tmp/ca.key" -out "$tmp/ca.crt" >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$data/server.key" -out "$tmp/server.csr" >/dev/null 2>&1
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > "$tmp/san.ext"
openssl x509 -req -in "$tmp/server.csr" -CA "$tmp/ca.crt" -CAkey "$tmp/ca.key" -CAcreateserial -days 2 \
  -extfile "$tmp/san.ext" -out "$data/server.crt" >/dev/null 2>&1
chmod 600 "$data/server.key"
[ "$(id -u)" = 0 ] && chown postgres: "$data/server.key" "$data/server.crt"
chmod 644 "$tmp/ca.crt"

cat >> "$data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$tmp'
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
max_connections = 40
EOF
cat > "$data/pg_hba.conf" <<EOF
local all all scram-sha-256
host  all all 127.0.0.1/32 scram-sha-256
EOF

# A free port: try a few random ones (the server refuses to start on a taken one).
started=""
for _ in 1 2 3 4 5 6 7 8; do
  port=$((20000 + RANDOM % 30000))
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then continue; fi
  if as_owner "$bindir/pg_ctl" -D "$data" -o "-p $port" -l "$tmp/server.log" -w -t 30 start >/dev/null 2>&1; then
    started=1
    break
  fi
done
if [ -z "$started" ]; then
  echo "with-postgres: the server did not start:" >&2
  cat "$tmp/server.log" >&2 || true
  exit 1
fi

export VOICED_TEST_POSTGRES_CA="$tmp/ca.crt"
export VOICED_TEST_POSTGRES_URL="postgresql://postgres:$password@127.0.0.1:$port/postgres?sslmode=verify-full&sslrootcert=$tmp/ca.crt"
echo "with-postgres: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (TLS, data in $data)"

set +e
"$@"
status=$?
set -e
exit "$status"
