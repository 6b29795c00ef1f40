#!/bin/sh
# Builds a static libpq (with the libpgcommon and libpgport it needs) from Debian's postgresql-15
# source package into $1 (default build/deps/libpq): include/ and lib/. $2: "none" (default) or
# "openssl", the TLS library. $3: a header force-included into every file (crest's
# src/db/pg_alloc.h, which routes libpq's malloc and free through crest's accounting).
#
# Why not Debian's own libpq.a: it is built with GSSAPI and LDAP, whose static libraries Debian
# does not ship (krb5 has none; libldap.a needs GnuTLS and SASL plugins as static archives), and
# the shared libpq maps OpenSSL, Kerberos, LDAP and GnuTLS: 5.7 MB of RSS before the first query,
# twice crest's whole budget. Built from the same Debian source without GSSAPI and LDAP, libpq
# links into the static crest binary and costs only what it touches. Without OpenSSL by default:
# with it, SCRAM authentication goes through OpenSSL's EVP layer, whose initialisation alone
# touched 1.7 MB more of the binary (2 workers, 4 connections: 4.57 MB RSS against 2.56 MB);
# without it, libpq uses PostgreSQL's own SHA-256 and HMAC, and TLS (sslmode=require) is off.
set -eu
out=${1:-build/deps/libpq}
tls=${2:-none}
alloc_header=${3:+-include $(cd "$(dirname "$3")" && pwd)/$(basename "$3")}
case "$tls" in
none) ssl_flag="" ;; # no TLS library: configure's default
openssl) ssl_flag=--with-ssl=openssl ;;
*)
    echo "libpq: TLS library must be none or openssl, not '$tls'" >&2
    exit 2
    ;;
esac
work="$out.work" # CMake's crest_build_dep holds a lock: one build at a time
rm -rf "$work" && mkdir -p "$work"
work=$(cd "$work" && pwd)
echo "libpq: fetching Debian's postgresql-15 source"
fetched=$(sh "$(dirname "$0")/debian-source.sh" postgresql-15 "$work/src")
echo "libpq: building libpq $fetched (static, TLS: $tls, no GSSAPI/LDAP)"
cd "$work/src"
./configure --quiet --without-readline --without-zlib --without-icu --without-gssapi \
    --without-ldap --without-lz4 --without-zstd $ssl_flag \
    CFLAGS="-O2 -fPIC -ffunction-sections -fdata-sections" >"$work/configure.log" 2>&1 || {
    tail -20 "$work/configure.log" >&2
    exit 1
}
# the allocator header after configure, whose test programs link against the C library alone
sed -i "s|^CFLAGS = \(.*\)|CFLAGS = \1 $alloc_header|" src/Makefile.global
# the generated headers (utils/errcodes.h, ...) first: a subdirectory's make does not make them
jobs=-j"$(nproc 2>/dev/null || echo 2)"
{ make -s -C src/backend generated-headers && make -s -C src/interfaces/libpq "$jobs"; } \
    >"$work/make.log" 2>&1 || {
    tail -20 "$work/make.log" >&2
    exit 1
}
cd - >/dev/null
mkdir -p "$out.tmp/include" "$out.tmp/lib"
cp "$work/src/src/interfaces/libpq/libpq-fe.h" "$work/src/src/include/postgres_ext.h" \
    "$work/src/src/include/pg_config_ext.h" "$out.tmp/include/"
cp "$work/src/src/interfaces/libpq/libpq.a" "$out.tmp/lib/"
cp "$work/src/src/common/libpgcommon_shlib.a" "$out.tmp/lib/libpgcommon.a"
cp "$work/src/src/port/libpgport_shlib.a" "$out.tmp/lib/libpgport.a"
echo "$fetched $tls" >"$out.tmp/VERSION"
rm -rf "$out" && mv "$out.tmp" "$out"
rm -rf "$work"
echo "libpq: $fetched in $out"
