#!/bin/sh
# Fetches Debian bookworm's source package $1 and unpacks it, Debian's patches applied, into $2
# (which must not exist); prints the version it got. The source comes through apt (deb-src, in a
# private apt state beside $2, so the machine's apt configuration is not changed), which checks it
# against Debian's signed index. Used by build-libpq.sh and build-sqlite.sh: crest links these
# libraries statically, built with only what it uses (each script says why).
set -eu
pkg=$1
dest=$2
state="$dest.apt"
rm -rf "$state" && mkdir -p "$state/lists/partial" "$state/cache/archives/partial"
state=$(cd "$state" && pwd)
cat >"$state/sources.list" <<EOF
deb-src http://deb.debian.org/debian bookworm main
deb-src http://deb.debian.org/debian-security bookworm-security main
deb-src http://deb.debian.org/debian bookworm-updates main
EOF
apt_opts="-o Dir::Etc::SourceList=$state/sources.list -o Dir::Etc::SourceParts=/nonexistent
 -o Dir::State::Lists=$state/lists -o Dir::Cache=$state/cache -o Debug::NoLocking=1"
# shellcheck disable=SC2086
apt-get $apt_opts -q update >"$state/apt.log" 2>&1 || {
    cat "$state/apt.log" >&2
    exit 1
}
# The newest version first; a mirror may not carry every version's source yet.
# shellcheck disable=SC2086
versions=$(apt-cache $apt_opts showsrc "$pkg" | sed -n 's/^Version: //p' | sort -rV)
for v in $versions; do
    # shellcheck disable=SC2086
    if (cd "$state" && apt-get $apt_opts -q source --download-only "$pkg=$v" \
        >>"$state/apt.log" 2>&1); then
        dpkg-source -q -x "$(ls "$state/${pkg}_"*.dsc)" "$dest" >/dev/null 2>&1
        rm -rf "$state"
        echo "$v"
        exit 0
    fi
done
echo "cannot download Debian's $pkg source package (see $state/apt.log)" >&2
exit 1
