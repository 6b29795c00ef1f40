"""bench/charts.py: the SVG charts of bench/compare.py, drawn with Debian's python3-matplotlib.

Two horizontal bar charts, one bar group per server measured, in the table's order:
PREFIX-memory.svg (RSS at ready and after load, log scale: the figures span three orders of
magnitude) and PREFIX-rps.svg (GET /json requests/s). Servers that were skipped are left out.
The SVG carries no date and a fixed id salt, so a rerun with the same figures gives the same file.
"""

import math
import os


class Unavailable(Exception):
    """Charts cannot be drawn here; the message says why."""


def pyplot():
    try:
        import matplotlib
    except ImportError:
        raise Unavailable("python3-matplotlib is not installed")
    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "crest-bench"
    matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text: readable, searchable
    import matplotlib.pyplot as plt
    return plt


def bars(plt, labels, series, title, xlabel, path, log_scale, fmt):
    """series: [(name, [value or None per label], colour)]."""
    n = len(labels)
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.3 * n * len(series)))
    height = 0.8 / len(series)
    ys = list(range(n))
    for i, (name, values, colour) in enumerate(series):
        pos = [y - 0.4 + height * (i + 0.5) for y in ys]
        vals = [v if v is not None else 0 for v in values]
        drawn = ax.barh(pos, vals, height=height, label=name, color=colour)
        for rect, v in zip(drawn, values):
            if v is not None:
                ax.text(rect.get_width(), rect.get_y() + rect.get_height() / 2, " " + fmt(v),
                        va="center", fontsize=8)
    ax.set_yticks(ys)
    ax.set_yticklabels(labels, fontsize=9)
    ax.invert_yaxis()
    if log_scale:
        ax.set_xscale("log")
        positive = [v for _, values, _ in series for v in values if v]
        ax.set_xlim(left=10 ** math.floor(math.log10(min(positive))) if positive else 0.1)
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: "{:g}".format(v)))
    else:
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: "{:,.0f}".format(v)))
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.margins(x=0.15)
    if len(series) > 1:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    fig.savefig(path, format="svg", metadata={"Date": None}, bbox_inches="tight")
    plt.close(fig)


def draw(servers, out_dir, prefix):
    """Writes the charts for the servers with figures; returns [(title, path)]."""
    plt = pyplot()
    measured = [s for s in servers if "rss_ready" in s.r]
    if not measured:
        return []
    labels = [s.label for s in measured]
    mb = 1e6
    out = []
    path = os.path.join(out_dir, prefix + "-memory.svg")
    bars(plt, labels,
         [("RSS at ready", [s.r["rss_ready"] / mb for s in measured], "#4c72b0"),
          ("RSS after load", [s.r["rss_after"] / mb if s.r.get("rss_after") else None
                              for s in measured], "#dd8452")],
         "Resident memory, process tree (lower is better)", "MB (10^6 bytes), log scale", path,
         True, lambda v: "%.1f MB" % v)
    out.append(("Resident memory at ready and after load", path))
    path = os.path.join(out_dir, prefix + "-rps.svg")
    bars(plt, labels,
         [("GET /json", [s.r.get("json", {}).get("rps") for s in measured], "#55a868")],
         "GET /json requests/s, 1 wrk thread, keep-alive (higher is better)", "requests/s",
         path, False, lambda v: "{:,.0f}".format(v))
    out.append(("GET /json requests/s", path))
    return out
