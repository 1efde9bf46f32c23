"""One self-contained HTML report of a campaign or archive (plotly inlined; works offline from disk).

Safety: every string that comes from an archive or a config reaches the page either through
``html.escape`` (HTML text), as escaped hover text (plotly renders a few tags in hover text,
so it is escaped too), or as JSON inside ``<script>`` with ``<``, ``>`` and ``&`` written as
``\\u003c`` … (so a ``</script>`` in a campaign name cannot end the script); the click handler
builds the layer table with ``textContent``. A campaign named ``<script>…`` renders as text.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from nasco.archive.atomic import write_atomic
from nasco.evo.results.front import SCALE, UNITS
from nasco.evo.results.report_data import ReportData, load_report_data
from nasco.evo.search.objectives import objective

MAX_DOMINATED_POINTS = 5000


def _script_json(obj: object) -> str:
    """JSON safe to embed in a <script> element."""
    return json.dumps(obj).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _hover(row: dict, objectives: list[str]) -> str:
    parts = [f"{html.escape(row['genome_hash'])} (gen {row['generation']}, {html.escape(row['campaign'])})"]
    parts += [f"{n}: {row[n] * SCALE[n]:.4g} {UNITS[n]}" for n in objectives]
    if row.get("test_error") is not None:
        parts.append(f"test error: {row['test_error'] * 100:.4g} %")
    if "macs" in row and "size_kib" in row:  # a network space
        parts += [f"MACs {row['macs']:,}", f"size {row['size_kib']:.2f} KiB", f"mean w/a bits "
                  f"{row['mean_w_bits']:.1f}/{row['mean_a_bits']:.1f}", f"mean prune {row['mean_prune']:.2f}",
                  f"depth {row['depth']}"]
    return "<br>".join(parts)


def _axis_title(name: str) -> str:
    return f"{name} ({UNITS[name]})" if UNITS[name] else name


def _front_figure(data: ReportData) -> go.Figure:
    front, names = data.front, data.front.objectives
    x, y = front.F[:, 0] * SCALE[names[0]], front.F[:, 1] * SCALE[names[1]]
    # behind a retrained final front: every searched candidate (at the search fidelity); else the dominated
    background = data.search if front.stage == "final" and data.search is not None else front
    shown = np.arange(len(background.F)) if background is not front else np.flatnonzero(~front.on_front)
    name = f"searched at {background.fidelity} epochs" if background is not front else "dominated"
    if len(shown) > MAX_DOMINATED_POINTS:  # SVG stays responsive; the sample is said in the legend
        total = len(shown)
        shown = np.sort(np.random.default_rng(0).choice(shown, MAX_DOMINATED_POINTS, replace=False))
        name = f"{name} ({MAX_DOMINATED_POINTS:,} of {total:,} shown)"
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=background.F[shown, 0] * SCALE[names[0]], y=background.F[shown, 1] * SCALE[names[1]],
                             mode="markers", name=name, marker={"color": "rgba(120,120,120,0.35)", "size": 5},
                             hoverinfo="skip"))
    order = [r["index"] for r in data.rows]
    title = f"final front (retrained at {front.fidelity} epochs)" if front.stage == "final" else "Pareto front"
    fig.add_trace(go.Scatter(x=x[order], y=y[order], mode="lines+markers", line={"shape": "hv"}, name=title,
                             marker={"size": 9}, customdata=list(range(len(order))),
                             hovertext=[_hover(r, names) for r in data.rows], hoverinfo="text"))
    fig.update_layout(title="Pareto front (click a point for its layer table)", height=480,
                      xaxis_title=_axis_title(names[0]), yaxis_title=_axis_title(names[1]))
    if objective(names[1]).log:
        fig.update_yaxes(type="log")
    if objective(names[0]).log:
        fig.update_xaxes(type="log")
    return fig


def _hv_figure(data: ReportData) -> go.Figure:
    fig = go.Figure()
    g, hv = zip(*data.hv_by_generation, strict=True) if data.hv_by_generation else ((), ())
    fig.add_trace(go.Scatter(x=g, y=hv, mode="lines+markers", name="by generation", xaxis="x", yaxis="y"))
    n, hv2 = zip(*data.hv_by_trained, strict=True) if data.hv_by_trained else ((), ())
    fig.add_trace(go.Scatter(x=n, y=hv2, mode="lines", name="by trained candidates", xaxis="x2", yaxis="y2"))
    fig.update_layout(title="Hypervolume (error, log10 costs)", height=380,
                      xaxis={"domain": [0, 0.46], "title": "generation"},
                      xaxis2={"domain": [0.54, 1], "title": "trained candidates"},
                      yaxis={"title": "hypervolume"}, yaxis2={"anchor": "x2"})
    return fig


def _parity_figure(data: ReportData) -> go.Figure:
    fig = go.Figure()
    values = []
    for entry in data.parity:
        fig.add_trace(go.Scatter(x=entry["true"], y=entry["predicted"], mode="markers",
                                 name=f"gen {entry['generation']} ({html.escape(str(entry['family']))}, "
                                      f"CV τ {entry['tau']:.2f})"))
        values += entry["true"] + entry["predicted"]
    if values:
        lo, hi = min(values), max(values)
        fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="predicted = true",
                                 line={"color": "grey", "dash": "dot"}))
    fig.update_layout(title="Surrogate: predicted vs true validation error of the screened candidates, per refit",
                      height=420, xaxis_title="true error", yaxis_title="predicted error")
    if not data.parity:
        fig.add_annotation(text="no surrogate log: the surrogate never screened here (too few records), or this is "
                                "not a campaign's run folder", showarrow=False, x=0.5, y=0.5, xref="paper",
                           yref="paper")
    return fig


def _heatmap_figure(data: ReportData) -> go.Figure:
    labels = [r["genome_hash"] for r in data.rows]
    fig = go.Figure()
    if not data.front.layout.network:
        fig.add_trace(go.Heatmap(z=data.bits_map.tolist(), x=labels, y=data.slot_names, colorscale="Viridis", zmin=0,
                                 zmax=1, colorbar={"title": "choice"},
                                 hovertemplate="%{y}<br>%{x}: choice position %{z:.2f}<extra></extra>"))
        fig.update_layout(title="Gene choices across the front (0: first choice, 1: last; ordered by the first "
                                "objective)", height=max(420, 18 * len(data.slot_names) + 160),
                          yaxis={"autorange": "reversed"})
        return fig
    fig.add_trace(go.Heatmap(z=np.log2(data.bits_map).tolist(), x=labels, y=data.slot_names, colorscale="Viridis",
                             colorbar={"title": "log2 w bits", "x": 0.46}, xaxis="x", yaxis="y",
                             hovertemplate="%{y}<br>%{x}: log2 bits %{z}<extra></extra>"))
    fig.add_trace(go.Heatmap(z=data.prune_map.tolist(), x=labels, y=data.slot_names, colorscale="Reds", zmin=0,
                             zmax=1, colorbar={"title": "pruned"}, xaxis="x2", yaxis="y2",
                             hovertemplate="%{y}<br>%{x}: pruned %{z:.2f}<extra></extra>"))
    fig.update_layout(title="Per-layer weight bits and prune ratio across the front (ordered by the first objective)",
                      height=max(420, 18 * len(data.slot_names) + 160),
                      xaxis={"domain": [0, 0.44]}, xaxis2={"domain": [0.56, 1]},
                      yaxis={"autorange": "reversed"},
                      yaxis2={"anchor": "x2", "showticklabels": False, "autorange": "reversed"})
    return fig


def _layer_table_data(data: ReportData) -> list[dict]:
    """Per front member: its hash, and its layer table (gene values for a space without a network)."""
    return [{"hash": row["genome_hash"], "columns": list(headers), "rows": rows}
            for row, (headers, rows) in zip(data.rows, data.layer_tables, strict=True)]


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;margin:24px;max-width:1200px}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 6px;font-size:13px;text-align:right}} pre{{background:#f6f6f6;padding:8px}}
</style><script>{plotly}</script></head><body>
<h1 id="title">{heading}</h1><p>{summary}</p>
<div id="front"></div><h3 id="layers-title">Layer table</h3><div id="layers">click a point of the front</div>
<div id="hv"></div><div id="parity"></div><div id="heatmap"></div>
<h2>Timings</h2><table id="timings">{timings}</table>
<h2>Campaign configuration</h2><pre id="config">{config}</pre>
<script>
const FIGURES = {figures};
const LAYERS = {layers};
for (const [id, fig] of Object.entries(FIGURES)) {{ Plotly.newPlot(id, fig.data, fig.layout, {{responsive: true}}); }}
function showLayers(i) {{
  const box = document.getElementById("layers"); box.replaceChildren();
  document.getElementById("layers-title").textContent = "Layer table of " + LAYERS[i].hash;
  const table = document.createElement("table"); const head = table.insertRow();
  for (const c of LAYERS[i].columns) {{
    const th = document.createElement("th"); th.textContent = c; head.appendChild(th); }}
  for (const r of LAYERS[i].rows) {{ const tr = table.insertRow();
    for (const v of r) {{ tr.insertCell().textContent = String(v); }} }}
  box.appendChild(table);
}}
document.getElementById("front").on("plotly_click", ev => {{
  const p = ev.points.find(q => q.customdata !== undefined); if (p) showLayers(p.customdata); }});
if (LAYERS.length) showLayers(0);
</script></body></html>
"""


def render_report(data: ReportData) -> str:
    """The report page as one string."""
    figures = {"front": _front_figure(data), "hv": _hv_figure(data), "parity": _parity_figure(data),
               "heatmap": _heatmap_figure(data)}
    fig_json = "{" + ",".join(f'"{k}":' + f.to_json() for k, f in figures.items()) + "}"
    fig_json = fig_json.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    front = data.front
    kind = ("final front, retrained (validation error; test error in the hover)" if front.stage == "final"
            else "search front")
    summary = (f"task {front.task}, {kind} at {front.fidelity} epochs: {len(data.rows)} candidates on the front of "
               f"{len(front.F)} successful records; objectives {', '.join(front.objectives)}")
    timings = "".join(f"<tr><th>{html.escape(k)}</th><td>{v:,.1f}</td></tr>" for k, v in data.timings.items())
    return PAGE.format(title=html.escape(f"nasco report: {data.title}"), plotly=get_plotlyjs(),
                       heading=html.escape(f"nasco report: {data.title}"), summary=html.escape(summary),
                       timings=timings, config=html.escape(data.config_text or "(not a run folder)"),
                       figures=fig_json, layers=_script_json(_layer_table_data(data)))


def write_report(source: str | Path, out: str | Path, **selection) -> Path:
    """Write the report of a run folder or archive to ``out``; returns the path."""
    out = Path(out)
    write_atomic(out, render_report(load_report_data(source, **selection)))
    return out
