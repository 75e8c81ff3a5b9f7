#!/usr/bin/env python3
"""Draws benches/chart.svg from the tables the benchmark scripts wrote into benches/README.md
(compare.py's RESULTS, load.py's LOAD and LOAD-GARAGE), so the chart always shows the
recorded run. Plain SVG, no plotting library needed.

Run: benches/chart.py  (after compare.py and load.py)
"""
import html
import pathlib
import re

HERE = pathlib.Path(__file__).resolve().parent
README = HERE / "README.md"
OUT = HERE / "chart.svg"

TOOLS = [("picops", "#1f77b4"), ("vipsthumbnail", "#ff7f0e"), ("ImageMagick", "#7f7f7f"), ("Pillow", "#2ca02c")]
WORKLOADS = [
    ("picops PUT + 3 rules", "#1f77b4"),
    ("upload-only ceiling (4 PUTs)", "#bcbd22"),
    ("boto3 + Pillow pipeline", "#2ca02c"),
]


def table(marker):
    """The rows of the markdown table between `<!-- marker -->` and its end, as lists."""
    text = README.read_text()
    m = re.search(rf"<!-- {re.escape(marker)} -->\n(.*?)\n<!-- /{re.escape(marker)} -->", text, re.S)
    if not m:
        raise SystemExit(f"README.md has no {marker} section")
    rows = [line.strip().strip("|").split("|") for line in m.group(1).splitlines() if line.startswith("|")]
    return [[c.strip() for c in r] for r in rows[2:]]  # header and rule lines dropped


def bars(x0, y0, width, title, groups, series, unit, note):
    """A horizontal grouped bar chart: `groups` is [(label, [value per series])]."""
    peak = max(v for _, values in groups for v in values if v is not None) or 1
    label_w, bar_h, gap = 310, 13, 12
    plot_w = width - label_w - 70
    out = [f'<text x="{x0}" y="{y0}" font-size="15" font-weight="bold">{html.escape(title)}</text>',
           f'<text x="{x0}" y="{y0 + 17}" font-size="11" fill="#555">{html.escape(note)}</text>']
    y = y0 + 35
    for label, values in groups:
        out.append(f'<text x="{x0}" y="{y + bar_h * len(values) / 2 + 4}" font-size="12">{html.escape(label)}</text>')
        for (name, colour), value in zip(series, values):
            if value is None:
                continue
            w = max(1.0, plot_w * value / peak)
            out.append(f'<rect x="{x0 + label_w}" y="{y}" width="{w:.1f}" height="{bar_h - 2}" fill="{colour}"/>')
            out.append(f'<text x="{x0 + label_w + w + 4:.1f}" y="{y + bar_h - 3}" font-size="10">{value:g} {unit}</text>')
            y += bar_h
        y += gap
    legend_x = x0 + label_w
    for name, colour in series:
        out.append(f'<rect x="{legend_x}" y="{y}" width="10" height="10" fill="{colour}"/>')
        out.append(f'<text x="{legend_x + 14}" y="{y + 9}" font-size="11">{html.escape(name)}</text>')
        legend_x += 14 + 7 * len(name) + 18
    return out, y + 30


def main():
    width = 900
    parts = []
    processor = [(r[0], [float(r[1]), float(r[2]), float(r[3]), float(r[4])]) for r in table("RESULTS")]
    svg, y = bars(20, 30, width, "Processor, one core, whole process (lower is better)", processor, TOOLS, "ms",
                  "benches/compare.py: median of hyperfine runs, each tool pinned with taskset -c 0")
    parts += svg
    for marker, store in [("LOAD", "the embedded store"), ("LOAD-GARAGE", "Garage")]:
        rows = table(marker)
        groups = []
        for conc in sorted({int(r[1]) for r in rows if not r[0].startswith("boto3")}):
            values = []
            for name, _ in WORKLOADS:
                match = [r for r in rows if r[0].startswith(name) and (name.startswith("boto3") or int(r[1]) == conc)]
                values.append(float(match[0][2]) if match else None)
            groups.append((f"concurrency {conc}", values))
        svg, y = bars(20, y + 10, width, f"End to end against {store}: uploads/s (higher is better)", groups,
                      WORKLOADS, "/s", "benches/load.py: 4.2 MB JPEG + 3 rules; the pipeline row is the same in every group")
        parts += svg
    OUT.write_text(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y}" font-family="sans-serif">\n'
        f'<rect width="100%" height="100%" fill="white"/>\n' + "\n".join(parts) + "\n</svg>\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
