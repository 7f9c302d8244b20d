#!/usr/bin/env bash
# Installs Debian's chromium for the browser tests when it is missing (set CHROMIUM to use
# another build). Tests drive it with playwright-core.
exec "$(dirname "$0")/ensure-package.sh" "${CHROMIUM:-/usr/bin/chromium}" chromium "the browser tests"
