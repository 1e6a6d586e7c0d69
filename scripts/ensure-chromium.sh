#!/usr/bin/env bash
# Make sure a Chromium exists for the web touchpoint: HARNESS_CHROMIUM, else the system package,
# else install Debian's `chromium` when running as root, else say what to install.
set -euo pipefail
if [ -n "${HARNESS_CHROMIUM:-}" ]; then
  if [ -x "$HARNESS_CHROMIUM" ]; then exit 0; fi
  echo "HARNESS_CHROMIUM=$HARNESS_CHROMIUM is not an executable file" >&2
  exit 1
fi
for candidate in chromium chromium-browser google-chrome; do
  if command -v "$candidate" >/dev/null 2>&1; then exit 0; fi
done
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "No Chromium found: installing Debian's chromium package" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q chromium >/dev/null
  command -v chromium >/dev/null 2>&1 && exit 0
fi
echo "No Chromium found: install the 'chromium' package (apt-get install chromium) or set HARNESS_CHROMIUM to a Chromium executable" >&2
exit 1
