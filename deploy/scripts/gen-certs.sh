#!/usr/bin/env bash
# Certificates and passwords for docker-compose.secure.yml, written to deploy/secrets/ (.gitignored:
# never commit it). Re-running keeps existing files; `--force` makes everything new (then restart
# the stack: the broker and every client pick up the new files).
#
#   ca.crt / ca.key            a private CA for this deployment (keep ca.key offline in production)
#   kafka.pem                  the broker's key + certificate (CN=kafka, SAN kafka, localhost)
#   admin.pem, admin.crt/.key  the pn-admin client certificate (super user: topic-init, acl-init)
#   pn-<service>.password      one SCRAM-SHA-512 password per service user
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=secrets
DAYS="${PN_CERT_DAYS:-825}"
FORCE="${1:-}"
umask 077
mkdir -p "$OUT"
[ "$FORCE" = "--force" ] && rm -f "$OUT"/*.crt "$OUT"/*.key "$OUT"/*.pem "$OUT"/*.password "$OUT"/*.srl "$OUT"/*.csr

if [ ! -f "$OUT/ca.key" ]; then
  openssl req -x509 -newkey rsa:3072 -nodes -sha256 -days "$DAYS" -subj "/CN=patientnamnd-ca" \
    -keyout "$OUT/ca.key" -out "$OUT/ca.crt" 2>/dev/null
fi

issue() {  # issue NAME CN SAN
  local name="$1" cn="$2" san="$3"
  [ -f "$OUT/$name.pem" ] && return 0
  openssl req -newkey rsa:3072 -nodes -sha256 -subj "/CN=$cn" \
    -keyout "$OUT/$name.key" -out "$OUT/$name.csr" 2>/dev/null
  openssl x509 -req -in "$OUT/$name.csr" -CA "$OUT/ca.crt" -CAkey "$OUT/ca.key" -CAcreateserial \
    -days "$DAYS" -sha256 -out "$OUT/$name.crt" \
    -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$san") 2>/dev/null
  # Kafka's PEM keystore: an unencrypted PKCS#8 key followed by the certificate.
  openssl pkcs8 -topk8 -nocrypt -in "$OUT/$name.key" -out "$OUT/$name.p8"
  cat "$OUT/$name.p8" "$OUT/$name.crt" > "$OUT/$name.pem"
  rm -f "$OUT/$name.csr" "$OUT/$name.p8"
}
issue kafka kafka "DNS:kafka,DNS:localhost"
issue admin pn-admin "DNS:pn-admin"

for service in intake diary fees billing budget; do
  f="$OUT/pn-$service.password"
  [ -f "$f" ] || openssl rand -hex 24 | tr -d '\n' > "$f"
done

# The containers run as other users (kafka: 1000, services: 10001) and read these files through
# bind mounts, so the files are world-readable; the directory itself stays private to you.
chmod 0700 "$OUT"
chmod 0644 "$OUT"/*.crt "$OUT"/*.pem "$OUT"/*.password "$OUT"/admin.key
chmod 0600 "$OUT/ca.key"
echo "secrets in deploy/$OUT/ (not committed): $(ls "$OUT" | tr '\n' ' ')"
