#!/usr/bin/env bash
# Services the test suite needs beyond Python: Dovecot's IMAP server, which the email tests start
# themselves on a free loopback port from a throwaway config (tests/email/conftest.py).
# Installs it from Debian's packages when missing; starts nothing (the package's own service is
# left stopped). Needs root, as CI runs; elsewhere the IMAP tests skip with a clear reason.
set -euo pipefail

if ! command -v dovecot >/dev/null && [[ ! -x /usr/sbin/dovecot ]]; then
  echo "== installing dovecot-imapd"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends dovecot-imapd >/dev/null
fi
echo "== dovecot: $(dovecot --version 2>/dev/null || /usr/sbin/dovecot --version)"
