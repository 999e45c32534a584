#!/usr/bin/env bash
# Installs odin $ODIN_VERSION for this runner's OS and architecture: the
# release archive is downloaded, checked against the release's
# checksums.txt (SHA-256) and unpacked; prints the directory holding odin.
# Used by action.yml; .ci/release-check runs it against a snapshot build.
#
#   ODIN_VERSION=1.4.0 [ODIN_DOWNLOAD_URL=https://mirror/odin/1.4.0] [INSTALL_DIR=...] install.sh
set -euo pipefail
version=${ODIN_VERSION:?set ODIN_VERSION to the odin version to install, e.g. 1.4.0}
version=${version#v}
base=${ODIN_DOWNLOAD_URL:-https://github.com/odin-deploy/odin/releases/download/v$version}

case "${RUNNER_OS:-$(uname -s)}" in
  Linux) os=linux ;;
  macOS | Darwin) os=darwin ;;
  Windows | MINGW* | MSYS* | CYGWIN*) os=windows ;;
  *) echo "setup-odin: unsupported OS ${RUNNER_OS:-$(uname -s)}" >&2; exit 1 ;;
esac
case "${RUNNER_ARCH:-$(uname -m)}" in
  X64 | x86_64 | amd64) arch=amd64 ;;
  ARM64 | arm64 | aarch64) arch=arm64 ;;
  *) echo "setup-odin: unsupported architecture ${RUNNER_ARCH:-$(uname -m)}" >&2; exit 1 ;;
esac
ext=tar.gz
[ "$os" = windows ] && ext=zip
archive="odin_${version}_${os}_${arch}.${ext}"

dest=${INSTALL_DIR:-${RUNNER_TOOL_CACHE:-${TMPDIR:-/tmp}}/odin/$version/$arch}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fetch() { curl -fsSL --retry 3 --proto '=https,http' -o "$work/$1" "$base/$1" || { echo "setup-odin: cannot download $base/$1" >&2; exit 1; }; }
fetch checksums.txt
fetch "$archive"

want=$(awk -v f="$archive" '$2 == f || $2 == "*" f { print $1 }' "$work/checksums.txt")
if [ -z "$want" ]; then
  echo "setup-odin: $archive is not in checksums.txt of $base" >&2
  exit 1
fi
if command -v sha256sum >/dev/null; then
  got=$(sha256sum "$work/$archive" | awk '{print $1}')
else
  got=$(shasum -a 256 "$work/$archive" | awk '{print $1}')
fi
if [ "$got" != "$want" ]; then
  echo "setup-odin: SHA-256 mismatch for $archive: got $got, checksums.txt says $want" >&2
  exit 1
fi

mkdir -p "$dest"
if [ "$ext" = zip ]; then
  unzip -oq "$work/$archive" -d "$dest"
else
  tar -xzf "$work/$archive" -C "$dest"
fi
echo "$dest"
