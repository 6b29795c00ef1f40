#!/bin/sh
# Prints a markdown table of libFuzzer runs from their logs: one row per DIR/<harness>/log, taken
# from libFuzzer's final "DONE" line (executions, cov, ft, corpus) and its exit status.
# Usage: sh tools/fuzz-table.sh DIR
dir=${1:?usage: fuzz-table.sh DIR}
echo "| harness | executions | exec/s | cov | ft | corpus | crashes |"
echo "|---|---|---|---|---|---|---|"
for log in "$dir"/fuzz_*/log; do
    name=$(basename "$(dirname "$log")")
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)
    crashes=$(ls "$(dirname "$log")/art" 2>/dev/null | wc -l)
    echo "$done_line" | awk -v n="$name" -v c="$crashes" '{
        execs = substr($1, 2)
        for (i = 1; i <= NF; i++) {
            if ($i == "cov:") cov = $(i + 1)
            if ($i == "ft:") ft = $(i + 1)
            if ($i == "corp:") corp = $(i + 1)
            if ($i == "exec/s:") rate = $(i + 1)
        }
        printf "| %s | %s | %s | %s | %s | %s | %s |\n", n, execs, rate, cov, ft, corp, c
    }'
done
