"""An SVG plot of a soak run (bench/soak.py): RSS, open fds and live tasks over time, one panel
each, the warm-up shaded. Stdlib string building, like bench/chart.py."""

from __future__ import annotations

from html import escape

PANELS = (("rss_kb", "RSS (MiB)", 1 / 1024, "#1f77b4"), ("fds", "open fds", 1, "#ff7f0e"), ("tasks", "live tasks", 1, "#2ca02c"))
W, H, LEFT, TOP, GAP = 640, 150, 70, 40, 50


def plot(samples: list[dict], warmup: float) -> str:
    if not samples:
        return '<svg xmlns="http://www.w3.org/2000/svg"/>'
    t_max = max(s["t"] for s in samples) or 1
    height = TOP + len(PANELS) * (H + GAP)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{LEFT + W + 30}" height="{height}" font-family="sans-serif" font-size="11">',
        f'<text x="{LEFT}" y="20" font-size="14">Soak: RSS, fds and tasks every {samples[1]["t"] - samples[0]["t"] if len(samples) > 1 else samples[0]["t"]} s (warm-up shaded)</text>',
    ]
    for i, (key, label, scale, color) in enumerate(PANELS):
        top = TOP + i * (H + GAP)
        values = [s[key] * scale for s in samples]
        hi = max(values) * 1.1 or 1
        x = lambda t: LEFT + W * t / t_max  # noqa: E731
        y = lambda v: top + H - H * v / hi  # noqa: E731
        out.append(f'<rect x="{LEFT}" y="{top}" width="{W * min(warmup, t_max) / t_max:.1f}" height="{H}" fill="#eee"/>')
        out.append(f'<rect x="{LEFT}" y="{top}" width="{W}" height="{H}" fill="none" stroke="#999"/>')
        out.append(f'<text x="{LEFT}" y="{top - 6}">{escape(label)}</text>')
        for frac in (0, 0.5, 1):
            v = hi * frac
            out.append(f'<text x="{LEFT - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:.0f}</text>')
        points = " ".join(f"{x(s['t']):.1f},{y(v):.1f}" for s, v in zip(samples, values))
        out.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="1.5"/>')
        out.append(f'<text x="{LEFT + W}" y="{top + H + 14}" text-anchor="end">{t_max} s</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
