#!/bin/sh
# tools/npm-ci.sh SRC DEST: installs the npm packages locked in SRC (package.json,
# package-lock.json and .npmrc, committed) into DEST/node_modules with `npm ci`, so nothing npm
# writes lands in the source tree. Skipped when DEST already holds that exact lock, so rebuilds
# stay offline. No install script runs (SRC/.npmrc and --ignore-scripts).
set -e
src=$1
dest=$2
if [ -d "$dest/node_modules" ] && cmp -s "$src/package-lock.json" "$dest/.installed-lock.json"; then
    exit 0
fi
command -v npm >/dev/null || { echo "tools/npm-ci.sh: npm is needed (Debian: apt-get install npm)" >&2; exit 1; }
mkdir -p "$dest"
rm -f "$dest/.installed-lock.json"
cp "$src/package.json" "$src/package-lock.json" "$dest/"
if [ -f "$src/.npmrc" ]; then cp "$src/.npmrc" "$dest/"; fi
(cd "$dest" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
cp "$src/package-lock.json" "$dest/.installed-lock.json"
