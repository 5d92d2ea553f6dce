"""An SVG chart of a load.py report: req/s and p99 per contender (stdlib string building).

Two panels side by side, one row per era × concurrency × contender, log scales (the contenders
span two orders of magnitude). `load.py` writes it next to latest.md, and to BENCH_CHART too.
"""

from __future__ import annotations

import math
from html import escape

COLORS = {
    "bare": "#7f7f7f",
    "wrapped": "#1f77b4",
    "per_session": "#17becf",
    "jwt-layer": "#bcbd22",
    "fastmcp": "#ff7f0e",
    "fastmcp-sessions": "#d62728",
    "ts-sdk": "#9467bd",
}
ROW_H = 16
LABEL_W = 250
PANEL_W = 330
GAP = 40
TOP = 60


def _log_x(value: float, lo: float, hi: float) -> float:
    value = min(max(value, lo), hi)
    return PANEL_W * (math.log10(value) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))


def _bounds(values: list[float]) -> tuple[float, float]:
    lo = 10 ** math.floor(math.log10(max(min(values), 1e-3)))
    hi = 10 ** math.ceil(math.log10(max(values) * 1.01))
    return lo, hi


def render_svg(report: dict) -> str:
    rows = report["summary"]
    measured = [r for r in rows if not r.get("na")]
    if not measured:
        return ""
    rps_lo, rps_hi = _bounds([r["rps"] for r in measured])
    p99_lo, p99_hi = _bounds([r["p99_ms"] for r in measured])
    # A blank line between era × concurrency groups.
    layout, y, last = [], TOP, None
    for r in rows:
        group = (r["era"], r["concurrency"])
        if last is not None and group != last:
            y += ROW_H // 2
        layout.append((y, r))
        y += ROW_H
        last = group
    height = y + 40
    width = LABEL_W + 2 * PANEL_W + GAP + 30
    m, cfg = report["machine"], report["config"]
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="10" y="18" font-size="14" font-weight="bold">tools/call echo: req/s and p99 per contender</text>',
        f'<text x="10" y="34" fill="#555">{escape(report["started"])} · {m["nproc"]} cores · '
        f'{cfg["rounds"]} round(s) × {cfg["duration_s"]:g} s · medians · log scales</text>',
    ]
    panels = [
        ("req/s (higher is better)", "rps", rps_lo, rps_hi, LABEL_W, lambda v: f"{v:,.0f}"),
        ("p99 ms (lower is better)", "p99_ms", p99_lo, p99_hi, LABEL_W + PANEL_W + GAP, lambda v: f"{v:.2f}"),
    ]
    for title, key, lo, hi, x0, fmt in panels:
        out.append(f'<text x="{x0}" y="{TOP - 8}" font-weight="bold">{title}</text>')
        decade = lo
        while decade <= hi * 1.0001:
            x = x0 + _log_x(decade, lo, hi)
            out.append(f'<line x1="{x:.1f}" y1="{TOP - 4}" x2="{x:.1f}" y2="{height - 30}" stroke="#ddd"/>')
            out.append(f'<text x="{x:.1f}" y="{height - 18}" text-anchor="middle" fill="#555">{decade:g}</text>')
            decade *= 10
        for y, r in layout:
            if r.get("na"):
                out.append(f'<text x="{x0 + 4}" y="{y + 11}" fill="#999">n/a</text>')
                continue
            w = max(_log_x(r[key], lo, hi), 1)
            color = COLORS.get(r["contender"], "#444")
            out.append(f'<rect x="{x0}" y="{y + 2}" width="{w:.1f}" height="{ROW_H - 4}" fill="{color}"/>')
            out.append(f'<text x="{x0 + w + 3:.1f}" y="{y + 11}">{fmt(r[key])}</text>')
    for y, r in layout:
        label = f"{r['era']} c={r['concurrency']} {r['contender']}"
        out.append(f'<text x="{LABEL_W - 6}" y="{y + 11}" text-anchor="end">{escape(label)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
