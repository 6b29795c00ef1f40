#!/usr/bin/env python3
"""tools/funclen.py: lengths of the function definitions under a source tree (default src/), in
lines from the line that opens the body to the one that closes it, as STYLE.md counts them
("functions a reader sees whole, about 60 lines"). Prints the count, median, p95 and the longest
ones; --over N lists every function longer than N lines.

A definition is a line at column 0 ending a parameter list, followed by a '{' alone at column 0
(the Linux brace style clang-format gives crest); the body ends at the next '}' at column 0."""
import argparse
import os
import re
import statistics

NAME = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(")


def functions(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.read().split("\n")
    out = []
    i = 0
    while i < len(lines):
        if lines[i] == "{" and i > 0:
            # the signature: back to the line holding the name's '('
            j = i - 1
            while j > 0 and "(" not in lines[j]:
                j -= 1
            m = NAME.search(lines[j])
            k = i + 1
            while k < len(lines) and lines[k] != "}":
                k += 1
            if m and "=" not in lines[j]:
                out.append((m.group(1), k - i + 1))
            i = k
        i += 1
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root", nargs="?", default=os.path.join(os.path.dirname(__file__), "..", "src"))
    ap.add_argument("--over", type=int, default=0)
    ap.add_argument("--top", type=int, default=5)
    a = ap.parse_args()
    all_fns = []
    for d, _, names in os.walk(a.root):
        for n in sorted(names):
            if n.endswith(".c"):
                p = os.path.join(d, n)
                rel = os.path.relpath(p, a.root)
                all_fns += [(length, name, rel) for name, length in functions(p)]
    lengths = sorted(x[0] for x in all_fns)
    p95 = lengths[int(0.95 * (len(lengths) - 1))]
    print(f"{len(lengths)} functions: median {statistics.median(lengths):g} lines, "
          f"p95 {p95}, longest {lengths[-1]}")
    for length, name, rel in sorted(all_fns, reverse=True)[:a.top]:
        print(f"  {length:4d}  {name}  ({rel})")
    if a.over:
        for length, name, rel in sorted(all_fns, reverse=True):
            if length > a.over:
                print(f"  over {a.over}: {length:4d}  {name}  ({rel})")


if __name__ == "__main__":
    main()
