#!/usr/bin/env bash
# Checks every Envoy config in envoy/ with `envoy --mode validate`, which also
# loads the built claude-wif .wasm and runs its on_configure.
#
# The deployment configs (sidecar.yaml, gateway.yaml) name their files under
# /etc/claude-wif/. Envoy's validation opens those files, so this script stages
# a throwaway /etc/claude-wif in a temporary directory (the built .wasm, the
# SDS files from envoy/sds/, and a self-signed certificate and key generated
# here with the venv's Python `cryptography`, valid for one day and deleted on
# exit; no key is committed) and validates a copy of each config with the
# prefix rewritten.
set -euo pipefail
cd "$(dirname "$0")/.."

envoy=.venv/bin/envoy
python=.venv/bin/python
wasm=target/wasm/claude_wif_filter.wasm
[[ -x $envoy ]] || { echo "validate-envoy: $envoy is missing; run 'make setup'" >&2; exit 1; }
[[ -f $wasm ]] || { echo "validate-envoy: $wasm is missing; run 'make build'" >&2; exit 1; }
"$python" -c 'import cryptography' 2>/dev/null || { echo "validate-envoy: the venv lacks cryptography; run 'make setup'" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
etc=$work/etc-claude-wif
mkdir -p "$etc/sds" "$etc/tls"
ln -s "$PWD/$wasm" "$etc/claude_wif_filter.wasm"
for sds in envoy/sds/*.yaml; do
  sed "s#/etc/claude-wif/#$etc/#g" "$sds" >"$etc/sds/$(basename "$sds")"
done
"$python" - "$etc/tls" <<'PY'
import datetime, pathlib, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

tls = pathlib.Path(sys.argv[1])
key = ec.generate_private_key(ec.SECP256R1())
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "claude-wif validate-envoy throwaway")])
now = datetime.datetime.now(datetime.timezone.utc)
cert = (
    x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
    .serial_number(x509.random_serial_number())
    .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
    .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
    .sign(key, hashes.SHA256())
)
pem = cert.public_bytes(serialization.Encoding.PEM)
(tls / "gateway.crt").write_bytes(pem)
(tls / "mesh-ca.crt").write_bytes(pem)
(tls / "gateway.key").write_bytes(key.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
PY

status=0
for config in envoy/*.yaml; do
  staged=$work/$(basename "$config")
  sed "s#/etc/claude-wif/#$etc/#g" "$config" >"$staged"
  if out=$("$envoy" --mode validate --disable-hot-restart -l error -c "$staged" 2>&1); then
    echo "validate-envoy: ok   $config"
  else
    echo "validate-envoy: FAIL $config" >&2
    echo "$out" | tail -n 20 >&2
    status=1
  fi
done
exit $status
