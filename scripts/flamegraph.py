#!/usr/bin/env python3
"""Folds `perf script` output and draws it as a flame graph SVG (no downloads needed).

    perf record -F 499 --call-graph dwarf,16384 -p <server pid> -- sleep 10
    perf script | scripts/flamegraph.py --title "GetEditingProject, SQLite" > graph.svg

Each box is a function; its width is its share of the samples, including what it calls.
Frames narrower than --min-width percent are left out. The hover text of a box gives the
function, its samples and its share.
"""

import argparse
import html
import re
import sys
from collections import Counter

WIDTH = 1200
ROW = 16


def fold(lines):
    """`perf script` blocks → Counter of stacks (root first), thread name as the root."""
    stacks = Counter()
    thread, frames = None, []

    def flush():
        if thread is not None and frames:
            stacks[(thread,) + tuple(reversed(frames))] += 1

    for line in lines:
        line = line.rstrip("\n")
        if not line.strip():
            flush()
            thread, frames = None, []
        elif not line[0].isspace():
            flush()
            thread, frames = line.split()[0], []
        else:
            parts = line.strip().split(" ", 1)
            if len(parts) == 2:
                symbol = re.sub(r" \(.*\)$", "", parts[1])
                frames.append(re.sub(r"\+0x[0-9a-f]+$", "", symbol))
    flush()
    return stacks


def tree(stacks):
    """Nested dict: name → [samples, children]."""
    root = [0, {}]
    for stack, n in stacks.items():
        root[0] += n
        node = root
        for name in stack:
            child = node[1].setdefault(name, [0, {}])
            child[0] += n
            node = child
    return root


def color(name):
    h = sum(ord(c) for c in name) % 60
    if name.startswith(("openice", "<openice")):
        return f"rgb(230,{120 + h},60)"
    if re.match(r"^[a-z_0-9]+$", name) and "::" not in name:
        return f"rgb({190 + h // 2},{190 + h // 2},{80 + h})"  # kernel and C
    return f"rgb(240,{140 + h},{60 + h // 2})"


def draw(root, title, min_width):
    total = root[0]
    boxes = []

    def walk(node, name, x, depth):
        n = node[0]
        w = WIDTH * n / total
        if 100.0 * n / total < min_width:
            return
        boxes.append((x, depth, w, name, n))
        cx = x
        for child_name, child in sorted(node[1].items()):
            walk(child, child_name, cx, depth + 1)
            cx += WIDTH * child[0] / total

    walk(root, "all", 0.0, 0)
    depth = max(b[1] for b in boxes) + 1
    height = depth * ROW + 40
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'font-family="monospace" font-size="11">',
        f'<rect width="100%" height="100%" fill="#fdfdf6"/>',
        f'<text x="6" y="18" font-size="14">{html.escape(title)} ({total} samples)</text>',
    ]
    for x, d, w, name, n in boxes:
        y = height - (d + 1) * ROW
        label = name if len(name) * 6.6 < w - 4 else name[: max(0, int((w - 4) / 6.6) - 2)] + ".."
        tip = f"{name} ({n} samples, {100.0 * n / total:.2f}%)"
        out.append(
            f'<g><title>{html.escape(tip)}</title>'
            f'<rect x="{x:.2f}" y="{y}" width="{max(w - 0.5, 0.1):.2f}" height="{ROW - 1}" '
            f'fill="{color(name)}"/>'
            + (f'<text x="{x + 3:.2f}" y="{y + 11}">{html.escape(label)}</text>' if w > 24 else "")
            + "</g>"
        )
    out.append("</svg>")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--title", default="flame graph")
    ap.add_argument("--min-width", type=float, default=0.1, help="percent of all samples")
    args = ap.parse_args()
    print(draw(tree(fold(sys.stdin)), args.title, args.min_width))


if __name__ == "__main__":
    main()
