#!/usr/bin/env bash
# What the test suite needs beyond npm packages, installed when it is missing (run by `npm test`
# before Jest, and by .ci/run):
#  - Debian's chromium, for the HTML report's browser test (test/report/html.test.ts);
#  - QEMU 7.2 and 10.0.2, for the QEMU cross-check tests (scripts/install-qemu.sh).
# Installing system packages needs root (or sudo without a password): without it nothing is
# installed, the affected tests are skipped and say why (under CI=true they fail instead).
# Packages come from the system's own apt sources.  Fast when everything is present.
set -uo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
say() { echo "install-test-deps: $*" >&2; }

have_qemu() {
  [ -x /usr/bin/qemu-system-aarch64 ] && [ -x "${QEMU_PREFIX_10:-$here/.qemu/10.0.2}/usr/bin/qemu-system-aarch64" ]
}
if command -v chromium >/dev/null 2>&1 && have_qemu; then
  exit 0
fi

status=0
# QEMU 10.0.2 is unpacked under the project (.qemu/): no root needed, and the files stay the user's.
v10="${QEMU_PREFIX_10:-$here/.qemu/10.0.2}/usr/bin/qemu-system-aarch64"
if [ ! -x "$v10" ]; then
  bash "$here/scripts/install-qemu.sh" 10.0 || status=1
fi

# chromium and QEMU 7.2 are system packages: root, or sudo without a password.
if ! command -v chromium >/dev/null 2>&1 || [ ! -x /usr/bin/qemu-system-aarch64 ]; then
  as_root=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      as_root=(sudo -n)
    else
      say "not root and no password-less sudo: chromium and QEMU 7.2 are not installed here;"
      say "their tests will be skipped (run this script as root to install them)"
      exit 0
    fi
  fi
  if ! command -v chromium >/dev/null 2>&1; then
    say "installing chromium (apt-get)"
    log="$(mktemp)"
    if ! { "${as_root[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq -o DPkg::Lock::Timeout=600 chromium; } >"$log" 2>&1; then
      say "apt-get install chromium failed:"
      tail -n 20 "$log" >&2
      status=1
    fi
    rm -f "$log"
  fi
  if [ ! -x /usr/bin/qemu-system-aarch64 ]; then
    "${as_root[@]}" bash "$here/scripts/install-qemu.sh" 7.2 || status=1
  fi
fi
# A failed install leaves the affected tests to say so (skipped, or failing under CI=true):
# the suite itself still runs.
[ "$status" -eq 0 ] || say "some test dependencies could not be installed; see above"
exit 0
