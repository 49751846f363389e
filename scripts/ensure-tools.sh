#!/usr/bin/env bash
# promtool and amtool are real peers the tests run against (Debian's prometheus and
# prometheus-alertmanager); openssl and curl make
# and use the TLS tests' certificates. Install them when we can; otherwise say what is missing.
set -euo pipefail
missing=()
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v amtool >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)  # test certificates (TLS tests)
command -v curl >/dev/null 2>&1 || missing+=(curl)        # scrapes over TLS in the tests
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian packages: ${missing[*]}" >&2
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  exit 0
fi
echo "missing tools: install the Debian/Ubuntu packages ${missing[*]} (they provide promtool and amtool), then run make test again" >&2
exit 1
