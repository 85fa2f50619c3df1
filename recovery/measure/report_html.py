"""The self-contained HTML page of ``git recover report --html FILE``.

One file, no network: inline CSS and one inline SVG chart per failure type (small
multiples, so a slow trend in one type is not flattened by another's scale). The
y axis is logarithmic because rollbacks take tenths of a second while a full
system target is minutes; the dashed line is the target. Hovering a point shows
its value through the SVG ``<title>`` element, which browsers render as a tooltip
without scripts.
"""

from __future__ import annotations

import math
from datetime import datetime
from html import escape

from recovery.measure.metrics import Recovery, Report, Row
from recovery.base.output import seconds
from recovery.measure.report import TABLE_HEADER, render_text, table_cells

_W, _H = 540, 230  # one chart's viewBox; it scales to its grid cell
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 14, 26, 34
_STATUS_CLASS = {"met": "met", "missed": "missed", "no data": "nodata"}

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1180px;
color:#1d232b;padding:0 1.5rem}
h1{font-size:1.6rem;margin:0 0 .2rem}h2{font-size:1.15rem;margin:2rem 0 .6rem}
.sub{color:#5b6673;margin:0 0 1.4rem}
.cards{display:flex;flex-wrap:wrap;gap:.8rem}
.card{border:1px solid #d8dee5;border-radius:8px;padding:.6rem 1rem;min-width:150px}
.card b{display:block;font-size:1.35rem}.card span{color:#5b6673;font-size:.85rem}
.card.bad{border-color:#c62828;background:#fdecea}.card.good b{color:#1b7f3b}
table{border-collapse:collapse;width:100%}
th,td{padding:.45rem .7rem;border-bottom:1px solid #e3e7ec;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}th{background:#f4f6f8;font-weight:600}
td.met{color:#1b7f3b;font-weight:600}td.missed{color:#c62828;font-weight:700}td.nodata{color:#8a949e}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(460px,1fr));gap:1rem}
figure{margin:0;border:1px solid #e3e7ec;border-radius:8px;padding:.4rem}
figcaption{font-weight:600;padding:.2rem .4rem}
svg{width:100%;height:auto;display:block}svg text{font:11px system-ui,sans-serif;fill:#5b6673}
.legend{color:#5b6673;font-size:.85rem}
.failures li{color:#c62828;margin:.2rem 0}
pre{background:#f4f6f8;padding:1rem;border-radius:8px;overflow:auto;font-size:.8rem}
"""


def render_html(report: Report, title: str = "git-recover: measured recovery") -> str:
    """The report as one self-contained HTML document (UTF-8 text)."""
    r = report.restores
    recovered = sum(1 for x in report.recoveries if x.category != "atomic_rollback")
    bad_loss = report.data_loss_events > 0
    cards = [
        _card("MTTR", seconds(report.mttr_s), "mean detection to verified restore"),
        _card("Recovered failures", str(recovered), f"source: {report.source}"),
        _card("RPO (median age)", seconds(report.rpo_age.median_s), "of the checkpoint restored"),
        _card("RPO (max files)", _g(report.rpo_files.max_s), "files not kept on disk"),
        _card("Open incidents", str(len(report.open_incidents)), f"{report.blocked} resolved by a block",
              "bad" if report.open_incidents else "good"),
        _card("Restores in this worktree", f"{r.ok} ok / {r.failed} failed", f"{r.continued} needed --continue"),
        _card("Data-loss events", str(report.data_loss_events), "must be 0",
              "bad" if bad_loss else "good"),
    ]
    for row in report.session:
        if row.status != "no data":
            cards.append(_card(f"Session state RPO ({row.label})", seconds(row.rpo.max_s),
                               f"max of {row.rpo.count}; target < 60 s", "bad" if row.status == "missed" else "good"))
    if report.failed_drills:
        cards.append(_card("Failed drill runs", str(report.failed_drills), "must be 0", "bad"))
    window = "empty journal"
    if report.first_event and report.last_event:
        window = f"journal {_stamp(report.first_event)} to {_stamp(report.last_event)} (UTC)"
    verdict = "; ".join(_problems(report)) or "every target met, no open incident, nothing lost"
    charts = "\n".join(_chart(row, [x for x in report.recoveries if x.category == row.category])
                       for row in report.rows)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{escape(title)}</title><style>{_CSS}</style></head>
<body>
<h1>{escape(title)}</h1>
<p class="sub">{escape(window)} &middot; <strong>{escape(verdict)}</strong></p>
<div class="cards">{''.join(cards)}</div>
{_failures(report)}
<h2>Measured versus target</h2>
{_table(report.rows)}
<h2>Recovery time over time</h2>
<p class="legend">One chart per failure type; log scale, seconds; times UTC. Filled points: real
incidents; hollow points: drills. Dashed line: the target.</p>
<div class="charts">
{charts}
</div>
<h2>Text report</h2>
<pre>{escape(render_text(report))}</pre>
</body></html>
"""


def _problems(report: Report) -> list[str]:
    missed = [row.label for row in report.rows if row.status == "missed"]
    missed += [f"session state ({row.label})" for row in report.session if row.status == "missed"]
    out = [f"target missed: {', '.join(missed)}"] if missed else []
    if report.open_incidents:
        out.append(f"{len(report.open_incidents)} open incidents")
    if report.data_loss_events:
        out.append(f"{report.data_loss_events} data-loss events")
    if report.failed_drills:
        out.append(f"{report.failed_drills} drill runs failed")
    return out


def _failures(report: Report) -> str:
    if not report.drill_failures:
        return ""
    items = "".join(f"<li>{escape(line)}</li>" for line in report.drill_failures)
    return f'<h2>Failed drill runs</h2><ul class="failures">{items}</ul>'


def _card(label: str, value: str, note: str, tone: str = "") -> str:
    return (f'<div class="card {tone}"><span>{escape(label)}</span><b>{escape(value)}</b>'
            f"<span>{escape(note)}</span></div>")


def _table(rows: tuple[Row, ...]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in TABLE_HEADER)
    body = []
    for row in rows:
        cells = table_cells(row)
        tds = "".join(f"<td>{escape(c)}</td>" for c in cells[:-1])
        body.append(f'<tr>{tds}<td class="{_STATUS_CLASS[row.status]}">{escape(cells[-1])}</td></tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _chart(row: Row, points: list[Recovery]) -> str:
    """One small SVG chart: recovery times of ``row``'s type against time, log y axis."""
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    values = [max(p.rto_s, 1e-3) for p in points]
    lo = 10 ** math.floor(math.log10(min([*values, row.target_s])))
    hi = 10 ** math.ceil(math.log10(max([*values, row.target_s]) * 1.05))
    span = math.log10(hi) - math.log10(lo)

    def y(value: float) -> float:
        return _TOP + plot_h * (1 - (math.log10(max(value, 1e-3)) - math.log10(lo)) / span)

    times = [p.time.timestamp() for p in points]
    t0, t1 = (min(times), max(times)) if times else (0.0, 0.0)

    def x(stamp: float) -> float:
        # 8 px inset so the first and last points do not sit on the frame
        return _LEFT + plot_w / 2 if t1 == t0 else _LEFT + 8 + (plot_w - 16) * (stamp - t0) / (t1 - t0)

    parts = [f'<rect x="{_LEFT}" y="{_TOP}" width="{plot_w}" height="{plot_h}" fill="#fafbfc" stroke="#e3e7ec"/>']
    decade = lo
    while decade <= hi * 1.001:
        yy = y(decade)
        parts.append(f'<line x1="{_LEFT}" x2="{_LEFT + plot_w}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#e9edf1"/>')
        parts.append(f'<text x="{_LEFT - 6}" y="{yy + 4:.1f}" text-anchor="end">{escape(_tick(decade))}</text>')
        decade *= 10
    ty = y(row.target_s)
    parts.append(f'<line x1="{_LEFT}" x2="{_LEFT + plot_w}" y1="{ty:.1f}" y2="{ty:.1f}" '
                 'stroke="#c62828" stroke-dasharray="5 4" stroke-width="1.5"/>')
    parts.append(f'<text x="{_LEFT + plot_w - 4}" y="{ty - 5:.1f}" text-anchor="end" '
                 f'style="fill:#c62828">target {row.target_s:g} s</text>')
    if points:
        coords = [(x(t), y(v)) for t, v in zip(times, values, strict=True)]
        if len(coords) > 1:
            path = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy in coords)
            parts.append(f'<polyline points="{path}" fill="none" stroke="#2f6fb3" stroke-width="1.5"/>')
        for (cx, cy), p in zip(coords, points, strict=True):
            fill = "#fff" if p.source == "drill" else "#2f6fb3"
            tip = f"{p.kind} ({p.source}) {seconds(p.rto_s)} at {_stamp(p.time)} UTC"
            parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3.5" fill="{fill}" stroke="#2f6fb3" '
                         f'stroke-width="1.5"><title>{escape(tip)}</title></circle>')
        # Label the ends at the precision the span needs (a drill spans seconds).
        fmt = "%H:%M:%S" if t1 - t0 < 3600 else "%m-%d %H:%M" if t1 - t0 < 172800 else "%Y-%m-%d"
        left, right = points[0].time.strftime(fmt), points[-1].time.strftime(fmt)
        parts.append(f'<text x="{_LEFT}" y="{_H - 10}">{escape(left)}</text>')
        if t1 != t0:
            parts.append(f'<text x="{_LEFT + plot_w}" y="{_H - 10}" text-anchor="end">{escape(right)}</text>')
    else:
        parts.append(f'<text x="{_LEFT + plot_w / 2}" y="{_TOP + plot_h / 2}" text-anchor="middle">'
                     "no recoveries measured</text>")
    caption = f"{row.label}: {row.rto.count} measured, max {seconds(row.rto.max_s)}"
    return (f'<figure><figcaption>{escape(caption)}</figcaption>'
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {_H}" '
            f'role="img" aria-label="{escape(caption)}">{"".join(parts)}</svg></figure>')


def _tick(value: float) -> str:
    return f"{value:g} s" if value >= 1 else f"{value:g}"


def _g(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M")
