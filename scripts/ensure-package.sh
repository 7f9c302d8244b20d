#!/usr/bin/env bash
# ensure-package.sh BIN PACKAGE WHAT: installs Debian's PACKAGE when BIN (a path or a command
# name) is missing. The tests use Debian's builds only; nothing is downloaded from anywhere else.
set -euo pipefail
bin=$1 pkg=$2 what=$3
if [ -x "$bin" ] || command -v "$bin" >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "$what needs $bin (Debian's $pkg); install it by hand on this system." >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
  sudo="sudo"
fi
echo "Installing Debian's $pkg for $what..."
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$pkg" >/dev/null
