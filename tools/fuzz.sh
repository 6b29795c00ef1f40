#!/bin/sh
# tools/fuzz.sh: runs the libFuzzer harnesses tests/fuzz/fuzz_<module>.c of a CREST_FUZZ build.
#   tools/fuzz.sh BUILD fuzz SECONDS  fuzzes each harness for SECONDS on tests/fuzz/corpus/<module>/;
#                                     new inputs go to a temporary directory, or into the corpus
#                                     itself when FUZZ_SAVE=1
#   tools/fuzz.sh BUILD smoke         replays every corpus file through its harness, then fuzzes
#                                     each harness for 3 seconds (what `make test` runs)
# Each harness's output goes to BUILD/fuzz-logs/<harness>.log, with a one-line summary here;
# crash, leak and timeout reproducers to BUILD/fuzz-artifacts/. Exits 1 when any harness failed.
set -u
build=$(cd "$1" && pwd) || exit 1
mode=$2
seconds=${3:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
logs=$build/fuzz-logs
artifacts=$build/fuzz-artifacts
tmp=$(mktemp -d "${TMPDIR:-/tmp}/crest-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir -p "$logs" "$artifacts"
case $mode in
fuzz | smoke) ;;
*)
    echo "usage: $0 BUILD fuzz SECONDS | $0 BUILD smoke" >&2
    exit 2
    ;;
esac
[ "$mode" = smoke ] && seconds=3

# The last status line libFuzzer printed ("#N DONE cov: C ft: F corp: ...") and the run count.
summary() {
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$1" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]* ft: [0-9]* corp: [^ ]*' "$1" | tail -n 1)
    echo "${runs:-?} execs, ${cov:-no coverage line}"
}

failed=""
for src in "$root"/tests/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    module=${name#fuzz_}
    bin=$build/$name
    corpus=$root/tests/fuzz/corpus/$module
    log=$logs/$name.log
    # -max_len past the 8 KiB and 16 KiB limits of the chunked decoder and the head parser, which
    # libFuzzer's default (the largest seed, at least 4096) would leave out of reach
    opts="-max_len=20480 -timeout=10 -print_final_stats=1 -artifact_prefix=$artifacts/$name-"
    if [ ! -x "$bin" ] || [ ! -d "$corpus" ]; then
        echo "$name: missing $bin or $corpus"
        failed="$failed $name"
        continue
    fi
    : >"$log"
    if [ "$mode" = smoke ]; then
        # every file once, no mutation: the regression test of every crasher kept
        # shellcheck disable=SC2086
        if ! "$bin" $opts "$corpus"/* >>"$log" 2>&1; then
            echo "$name: corpus replay FAILED (see $log)"
            tail -n 30 "$log"
            failed="$failed $name"
            continue
        fi
    fi
    if [ "${FUZZ_SAVE:-0}" = 1 ] && [ "$mode" = fuzz ]; then
        dirs=$corpus
    else
        mkdir -p "$tmp/$module"
        dirs="$tmp/$module $corpus"
    fi
    # shellcheck disable=SC2086
    if "$bin" $opts -max_total_time="$seconds" $dirs >>"$log" 2>&1; then
        echo "$name: ok, $(summary "$log") in ${seconds}s"
    else
        echo "$name: FAILED (see $log; reproducer in $artifacts)"
        tail -n 30 "$log"
        failed="$failed $name"
    fi
done
if [ -n "$failed" ]; then
    echo "fuzz $mode failed:$failed"
    exit 1
fi
