#!/usr/bin/python3
"""bench/notes_lines.py: the lines of examples/notes against its FastAPI twin (issue 17's goal:
at most 2 x). Both are counted the same way: every line, and code lines (not blank, not only a
comment or a docstring). The C side is the app and its server (notes.c, notes.h, main.c), not its
test; the Python side is bench/peers/notes_fastapi.py, which serves itself too.

Run: /usr/bin/python3 bench/notes_lines.py [--out bench/results/notes_lines.md]
"""

import argparse
import datetime
import pathlib
import re

REPO = pathlib.Path(__file__).resolve().parents[1]
C_FILES = ["examples/notes/notes.c", "examples/notes/notes.h", "examples/notes/main.c"]
PY_FILES = ["bench/peers/notes_fastapi.py"]


def c_code_lines(text):
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    return sum(1 for line in text.splitlines() if line.strip())


def py_code_lines(text):
    text = re.sub(r'^\s*(?:"""|\'\'\').*?(?:"""|\'\'\')\s*$',
                  lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S | re.M)
    return sum(1 for line in text.splitlines() if line.strip() and not line.strip().startswith("#"))


def count(files, code_lines):
    total = code = 0
    for f in files:
        text = (REPO / f).read_text()
        total += len(text.splitlines())
        code += code_lines(text)
    return total, code


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "notes_lines.md"))
    args = ap.parse_args()
    c_total, c_code = count(C_FILES, c_code_lines)
    py_total, py_code = count(PY_FILES, py_code_lines)
    rows = [("crest (C): " + ", ".join(C_FILES), c_total, c_code),
            ("FastAPI (Python): " + ", ".join(PY_FILES), py_total, py_code)]
    out = [f"# The notes API: lines of code ({datetime.date.today()})", "",
           "Written by `bench/notes_lines.py`. Code lines: not blank, not only a comment or a "
           "docstring.", "",
           "| implementation | lines | code lines |", "|---|---:|---:|"]
    out += [f"| {name} | {total} | {code} |" for name, total, code in rows]
    out += ["", f"crest / FastAPI: {c_total / py_total:.2f} x the lines, "
            f"{c_code / py_code:.2f} x the code lines (the issue's goal: at most 2 x)."]
    text = "\n".join(out) + "\n"
    pathlib.Path(args.out).write_text(text)
    print(text, end="")


if __name__ == "__main__":
    main()
