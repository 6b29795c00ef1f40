#!/usr/bin/env python3
"""tools/layers.py: checks that src/'s #includes point only down the rooms' order and that no two
files call each other in a cycle of includes (docs/architecture.md, "Layout"). Run by ctest
(test_layers); prints each offending include and exits 1.

A room may include its own headers and those of any room below it, never one beside it."""
import os
import re
import sys

# lowest first; rooms on one line share a level
ORDER = [
    ["mem"],
    ["json"],  # a codec on mem alone: below obs, whose metrics text writes numbers as it does
    ["obs"],
    ["net"],
    ["http"],
    ["store"],
    ["route"],
    ["req"],
    ["valid"],
    ["app"],
    ["openapi", "ops"],
    ["serve"],
    ["items"],
    ["cli"],
]
LEVEL = {room: i for i, rooms in enumerate(ORDER) for room in rooms}
INCLUDE = re.compile(r'^#include "([a-z_]+)/([a-z_0-9]+\.h)"', re.M)


def main(src):
    bad = []
    graph = {}
    for room in sorted(os.listdir(src)):
        if room not in LEVEL:
            bad.append(f"src/{room}/: a room missing from tools/layers.py's ORDER")
            continue
        for name in sorted(os.listdir(os.path.join(src, room))):
            path = f"{room}/{name}"
            with open(os.path.join(src, room, name), encoding="utf-8") as f:
                text = f.read()
            for inc_room, inc_name in INCLUDE.findall(text):
                target = f"{inc_room}/{inc_name}"
                graph.setdefault(path, set()).add(target)
                if inc_room not in LEVEL:
                    bad.append(f"src/{path}: includes {target}, of no known room")
                elif LEVEL[inc_room] > LEVEL[room]:
                    bad.append(f"src/{path}: includes {target}, a room above {room}/")
                elif LEVEL[inc_room] == LEVEL[room] and inc_room != room:
                    bad.append(f"src/{path}: includes {target}, a room beside {room}/")
    # a cycle among headers (a .h that, through others, includes itself)
    state = {}

    def visit(node, stack):
        state[node] = 1
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                bad.append("include cycle: " + " -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    for line in bad:
        print(line)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else
                  os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")))
