#!/usr/bin/env bash
# Installs the two QEMU builds `smmu-replay oracle qemu` drives:
#  - QEMU 7.2 (qemu-system-arm of the system's default Debian suite), with apt-get, when
#    /usr/bin/qemu-system-aarch64 is missing;
#  - QEMU 10.0.2 from bookworm-backports, unpacked into a project-private directory
#    (default .qemu/10.0.2 under the project; QEMU_PREFIX_10 overrides) without touching the
#    system's apt configuration, package database or QEMU.  The three packages are pinned to one
#    version and checked against their SHA-256 before they are unpacked.
# The Debian mirror is read from the system's own apt configuration at run time.
# Usage: scripts/install-qemu.sh [7.2|10.0|all]   (default all); prints the binaries' versions.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
want="${1:-all}"

V10='1:10.0.2+ds-2+deb13u1~bpo12+1'
declare -A SHA=(
  [qemu-system-arm]=edebbab09db3882c48ef9c00049c7c6a2d76d195cb88d830baadd1fb705bbc66
  [qemu-system-common]=23a4672a138832d7173855e981aa8282c73ef5e04e080fa7ada9f82c6b34f507
  [qemu-system-data]=2d831088187087013b3fcbd19bdfb955b182a2d5a08f6dafa0ad1c6d2007fb4e
)
prefix10="${QEMU_PREFIX_10:-$here/.qemu/10.0.2}"

say() { echo "install-qemu: $*" >&2; }

# The URI of the system's Debian archive (the source that serves the bookworm suite), from the
# deb822 files under /etc/apt/sources.list.d or, failing that, the one-line sources.list format.
debian_uri() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    awk 'BEGIN{RS="";FS="\n"}
      { uri=""; suites="";
        for (i=1;i<=NF;i++) { if ($i ~ /^URIs:/) { sub(/^URIs:[ \t]*/,"",$i); split($i,u," "); uri=u[1] }
                              if ($i ~ /^Suites:/) suites=$i }
        if (uri != "" && suites ~ /[ \t]bookworm([ \t]|$)/) { print uri; exit } }' "$f"
  done | head -n1 | grep . && return 0
  if [ -r /etc/apt/sources.list ]; then
    awk '$1=="deb" && $0 ~ / bookworm / { for (i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' /etc/apt/sources.list | head -n1 | grep . && return 0
  fi
  return 1
}

install72() {
  if [ -x /usr/bin/qemu-system-aarch64 ]; then
    say "QEMU 7.2: $(/usr/bin/qemu-system-aarch64 --version | head -n1)"
    return 0
  fi
  say "installing qemu-system-arm from the default suite"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends qemu-system-arm >/dev/null
  say "QEMU 7.2: $(/usr/bin/qemu-system-aarch64 --version | head -n1)"
}

install10() {
  local bin="$prefix10/usr/bin/qemu-system-aarch64"
  if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q 'version 10\.0\.2'; then
    say "QEMU 10.0: $("$bin" --version | head -n1)"
    return 0
  fi
  local uri
  uri="$(debian_uri)" || { say "no Debian bookworm source found in the system's apt configuration"; return 1; }
  local work
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' RETURN
  mkdir -p "$work/etc/parts" "$work/lists/partial" "$work/cache/archives/partial" "$work/debs"
  # A private sources list naming only bookworm-backports of the system's own mirror.
  local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  printf 'deb [signed-by=%s] %s bookworm-backports main\n' "$keyring" "$uri" > "$work/etc/sources.list"
  local opts=(-o "Dir::Etc::SourceList=$work/etc/sources.list" -o "Dir::Etc::SourceParts=$work/etc/parts"
              -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o "APT::Sandbox::User=root")
  say "fetching qemu-system-arm $V10 (bookworm-backports) into $prefix10"
  apt-get "${opts[@]}" -qq update
  (cd "$work/debs" && apt-get "${opts[@]}" -qq download \
      "qemu-system-arm=$V10" "qemu-system-common=$V10" "qemu-system-data=$V10")
  local p f
  for p in "${!SHA[@]}"; do
    f="$(ls "$work/debs/${p}_"*.deb)"
    echo "${SHA[$p]}  $f" | sha256sum -c --quiet - || { say "SHA-256 mismatch for $f"; return 1; }
  done
  rm -rf "$prefix10.tmp" && mkdir -p "$prefix10.tmp"
  for f in "$work"/debs/*.deb; do dpkg -x "$f" "$prefix10.tmp"; done
  rm -rf "$prefix10" && mv "$prefix10.tmp" "$prefix10"
  say "QEMU 10.0: $("$bin" --version | head -n1)"
}

case "$want" in
  7.2) install72 ;;
  10.0) install10 ;;
  all) install72; install10 ;;
  *) echo "usage: $0 [7.2|10.0|all]" >&2; exit 2 ;;
esac
