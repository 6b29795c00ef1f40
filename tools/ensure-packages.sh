#!/bin/sh
# Installs the Debian packages named as arguments that are missing: with apt-get when root
# (apt-get update once per machine first), otherwise a message naming them and exit 1.
missing=""
for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "crest needs these Debian packages:$missing" >&2
    echo "install them with: sudo apt-get install -y$missing" >&2
    exit 1
fi
echo "installing Debian packages:$missing"
stamp=/var/lib/apt/periodic/crest-update-done
if [ ! -e "$stamp" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null || exit 1
    mkdir -p "$(dirname "$stamp")" && touch "$stamp"
fi
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >/dev/null || exit 1
