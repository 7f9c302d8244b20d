#!/usr/bin/env bash
# Installs Debian's strace when it is missing: the Go test TestAReportIsFsyncedBeforeIts201
# traces the server's system calls to show that a report is fsynced before its 201 goes out.
set -euo pipefail
if command -v strace >/dev/null; then
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "The fsync test needs strace; install it, or it is skipped outside CI." >&2
  exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
  sudo="sudo"
fi
echo "Installing Debian's strace for the fsync test..."
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq strace >/dev/null
