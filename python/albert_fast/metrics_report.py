"""A run's curves as one self-contained HTML page (inline SVG, no script, no dependency):
loss, masked-LM and sentence-order loss and accuracy, learning rate and throughput over the
steps, training lines and evaluation points — what people otherwise open TensorBoard for.
Drawn from ``RUN/metrics.jsonl`` (:mod:`albert_fast.metrics_log`) by
``albert-fast inspect RUN --plot``."""

from __future__ import annotations

import html
import math
import os
from pathlib import Path
from typing import Any, Optional, Sequence

from albert_fast.io_utils import atomic_write_text
from albert_fast.metrics_log import by_split, read_metrics

__all__ = ["CHARTS", "REPORT_FILE", "write_report", "render_report", "run_summary"]

REPORT_FILE = "metrics.html"

#: (title, [(metric, label)]): one chart each; a metric is drawn for every split that has it.
CHARTS: list[tuple[str, list[tuple[str, str]]]] = [
    ("Loss", [("loss", "total"), ("masked_lm_loss", "masked LM"), ("sentence_order_loss", "sentence order")]),
    ("Accuracy", [("masked_lm_accuracy", "masked LM"), ("sentence_order_accuracy", "sentence order")]),
    ("Learning rate", [("learning_rate", "learning rate")]),
    ("Throughput", [("examples_per_sec", "examples/s")]),
]

_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
_W, _H = 640, 300
_LEFT, _RIGHT, _TOP, _BOTTOM = 70, 20, 30, 45


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1e4 or abs(v) < 1e-2:
        return f"{v:.1e}"
    return f"{v:.4g}"


def _chart(title: str, series: Sequence[tuple[str, list[tuple[int, float]], bool]]) -> str:
    """One SVG chart; ``series`` are (label, [(step, value)], as points) in drawing order."""
    values = [v for _, pts, _ in series for _, v in pts]
    steps = [s for _, pts, _ in series for s, _ in pts]
    if not values:
        return ""
    x0, x1 = min(steps), max(steps)
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    y0, y1 = min(values), max(values)
    if y1 == y0:
        y0, y1 = y0 - (abs(y0) * 0.1 or 1.0), y1 + (abs(y1) * 0.1 or 1.0)
    pad = (y1 - y0) * 0.05
    y0, y1 = y0 - pad, y1 + pad
    pw, ph = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM

    def x(s: float) -> float:
        return _LEFT + (s - x0) / (x1 - x0) * pw

    def y(v: float) -> float:
        return _TOP + ph - (v - y0) / (y1 - y0) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" '
           f'viewBox="0 0 {_W} {_H}" role="img" aria-label="{html.escape(title)}">',
           f'<text x="{_LEFT}" y="18" font-size="14" font-weight="bold">{html.escape(title)}</text>',
           f'<rect x="{_LEFT}" y="{_TOP}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>']
    for t in _nice_ticks(y0, y1):
        if y0 <= t <= y1:
            out.append(f'<line x1="{_LEFT}" x2="{_LEFT + pw}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="#eee"/>'
                       f'<text x="{_LEFT - 6}" y="{y(t) + 4:.1f}" font-size="11" text-anchor="end">{_fmt(t)}</text>')
    for t in _nice_ticks(x0, x1):
        if x0 <= t <= x1:
            out.append(f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{_TOP + ph}" y2="{_TOP + ph + 4}" stroke="#999"/>'
                       f'<text x="{x(t):.1f}" y="{_TOP + ph + 17}" font-size="11" text-anchor="middle">{_fmt(t)}</text>')
    out.append(f'<text x="{_LEFT + pw / 2}" y="{_H - 8}" font-size="11" text-anchor="middle">step</text>')
    for i, (label, pts, as_points) in enumerate(series):
        colour = _COLOURS[i % len(_COLOURS)]
        if as_points or len(pts) == 1:
            out.extend(f'<circle cx="{x(s):.1f}" cy="{y(v):.1f}" r="3.5" fill="{colour}" class="series" '
                       f'data-label="{html.escape(label)}"/>' for s, v in pts)
        else:
            path = " ".join(f"{x(s):.1f},{y(v):.1f}" for s, v in pts)
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.6" '
                       f'class="series" data-label="{html.escape(label)}"/>')
        lx = _LEFT + 8 + (i % 3) * 190
        ly = _TOP + 14 + (i // 3) * 15
        out.append(f'<rect x="{lx}" y="{ly - 8}" width="10" height="10" fill="{colour}"/>'
                   f'<text x="{lx + 14}" y="{ly + 1}" font-size="11">{html.escape(label)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def render_report(records: list[dict[str, Any]], title: str) -> str:
    """The HTML page for ``records`` (see :data:`CHARTS`)."""
    train, evals = by_split(records, "train"), by_split(records, "eval")
    charts = []
    for chart_title, metrics in CHARTS:
        series = []
        for split, rows, as_points in (("train", train, False), ("eval", evals, True)):
            for metric, label in metrics:
                pts = [(r["step"], float(r[metric])) for r in rows if isinstance(r.get(metric), (int, float))]
                if pts:
                    series.append((f"{label} ({split})", pts, as_points))
        svg = _chart(chart_title, series)
        if svg:
            charts.append(f"<figure>{svg}</figure>")
    summary = run_summary(records)
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in summary.items())
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>body{{font-family:sans-serif;margin:2em}}"
            "figure{display:inline-block;margin:0 1em 1em 0}table{border-collapse:collapse}"
            "th,td{text-align:left;padding:2px 12px 2px 0}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><table>{rows}</table>\n" + "\n".join(charts) + "\n</body></html>\n")


def run_summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The run at a glance: steps logged, the last training and evaluation values."""
    train, evals = by_split(records, "train"), by_split(records, "eval")
    out: dict[str, Any] = {"records": len(records)}
    if train:
        last = train[-1]
        out["last step"] = last["step"]
        if last.get("epoch") is not None:
            out["epochs"] = f"{last['epoch']:.3f}"
        for k in ("loss", "masked_lm_accuracy", "sentence_order_accuracy", "learning_rate"):
            if isinstance(last.get(k), (int, float)):
                out[f"train {k}"] = f"{last[k]:.4g}"
    if evals:
        last = evals[-1]
        out["last eval step"] = last["step"]
        for k in ("masked_lm_loss", "masked_lm_accuracy", "sentence_order_accuracy"):
            if isinstance(last.get(k), (int, float)):
                out[f"eval {k}"] = f"{last[k]:.4g}"
    return out


def write_report(run_dir: str | os.PathLike, output: Optional[str | os.PathLike] = None) -> Path:
    """Writes the HTML report of ``run_dir`` to ``output`` (default ``RUN/metrics.html``)."""
    records = read_metrics(run_dir)
    if not records:
        raise ValueError(f"{Path(run_dir) / 'metrics.jsonl'}: no metrics recorded yet")
    path = Path(output) if output else Path(run_dir) / REPORT_FILE
    atomic_write_text(path, render_report(records, f"albert-fast run {Path(run_dir).resolve().name}"))
    return path
