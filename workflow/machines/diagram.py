"""An SVG drawing of a machine, derived from its table (no graphviz needed).

Layout: states in columns by their distance from the start state along the table's
moving transitions, in table order within a column. Each pair of states joined by
transitions gets one curved arrow labelled with its triggers (arrows in opposite
directions bend to opposite sides). Transitions that leave the case where it is
(public notice, referral, confirmations) are listed under the drawing with the states
they apply to.
"""
from __future__ import annotations

import math
from collections import defaultdict
from xml.sax.saxutils import escape, quoteattr

from workflow.machines.base import NEW, CaseMachine

BOX_W, BOX_H = 190, 50
COL_GAP, ROW_GAP = 140, 46
MARGIN = 40
LINE_H = 18
FILL = {"start": "#eeeeee", "rung": "#fff4d6", "review": "#e3f0ff", "appeal": "#f3e5ff", "closed": "#e4f5e4"}


def _columns(machine: CaseMachine) -> list[list[str]]:
    depth = {NEW: 0}
    frontier = [NEW]
    while frontier:
        nxt = []
        for state in frontier:
            for t in machine.transitions:
                if state in t.source and t.dest and t.dest not in depth:
                    depth[t.dest] = depth[state] + 1
                    nxt.append(t.dest)
        frontier = nxt
    for name in machine.states:  # unreachable states still get drawn, at the end
        depth.setdefault(name, max(depth.values()) + 1)
    columns: list[list[str]] = [[] for _ in range(max(depth.values()) + 1)]
    for name in machine.states:
        columns[depth[name]].append(name)
    return columns


def _anchor(box: tuple[float, float], toward: tuple[float, float]) -> tuple[float, float]:
    """Where the line from the box's centre toward ``toward`` leaves the box."""
    cx, cy = box[0] + BOX_W / 2, box[1] + BOX_H / 2
    dx, dy = toward[0] - cx, toward[1] - cy
    if dx == 0 and dy == 0:
        return cx, cy
    scale = min((BOX_W / 2) / abs(dx) if dx else math.inf, (BOX_H / 2) / abs(dy) if dy else math.inf)
    return cx + dx * scale, cy + dy * scale


def render_svg(machine: CaseMachine) -> str:
    columns = _columns(machine)
    rows = max(len(c) for c in columns)
    pos: dict[str, tuple[float, float]] = {}
    for ci, column in enumerate(columns):
        offset = (rows - len(column)) * (BOX_H + ROW_GAP) / 2
        for ri, name in enumerate(column):
            pos[name] = (MARGIN + ci * (BOX_W + COL_GAP), MARGIN + 30 + offset + ri * (BOX_H + ROW_GAP))

    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    internal: dict[str, list[str]] = defaultdict(list)
    internal_info = {}
    for t in machine.transitions:
        for source in t.source:
            if t.dest is None:
                if t.trigger not in internal[source]:
                    internal[source].append(t.trigger)
                internal_info[t.trigger] = t
            elif t.trigger not in edges[(source, t.dest)]:
                edges[(source, t.dest)].append(t.trigger)

    width = MARGIN * 2 + len(columns) * BOX_W + (len(columns) - 1) * COL_GAP
    height_graph = MARGIN + 30 + rows * (BOX_H + ROW_GAP)
    listed = sorted({tr for triggers in internal.values() for tr in triggers})
    height = height_graph + 30 + LINE_H * (len(listed) + 1) + MARGIN

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" "
        "markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#555\"/>"
        "</marker></defs>",
        f'<text x="{MARGIN}" y="{MARGIN}" font-size="16" font-weight="bold">'
        f"{escape(machine.label)} ({escape(machine.name)}, {escape(machine.article.chinese)})</text>",
    ]
    for (source, dest), triggers in edges.items():
        a, b = pos[source], pos[dest]
        ca = (a[0] + BOX_W / 2, a[1] + BOX_H / 2)
        cb = (b[0] + BOX_W / 2, b[1] + BOX_H / 2)
        dx, dy = cb[0] - ca[0], cb[1] - ca[1]
        length = math.hypot(dx, dy) or 1
        bend = 28 + (12 if (dest, source) in edges else 0)
        control = ((ca[0] + cb[0]) / 2 - dy / length * bend, (ca[1] + cb[1]) / 2 + dx / length * bend)
        start, end = _anchor(a, control), _anchor(b, control)
        label_x = 0.25 * start[0] + 0.5 * control[0] + 0.25 * end[0]
        label_y = 0.25 * start[1] + 0.5 * control[1] + 0.25 * end[1]
        title = "; ".join(f"{tr}: {machine.by_trigger[tr][0].label} ({machine.by_trigger[tr][0].article.chinese})"
                          for tr in triggers)
        out.append(f'<g class="edge"><title>{escape(title)}</title>'
                   f'<path d="M {start[0]:.1f} {start[1]:.1f} Q {control[0]:.1f} {control[1]:.1f} '
                   f'{end[0]:.1f} {end[1]:.1f}" fill="none" stroke="#555" marker-end="url(#arrow)"/>'
                   f'<text x="{label_x:.1f}" y="{label_y:.1f}" text-anchor="middle" fill="#1a4d8f" '
                   f'font-size="10">{escape(", ".join(triggers))}</text></g>')
    for name, (x, y) in pos.items():
        state = machine.states[name]
        extra = f" ({state.article.chinese})" if state.article else ""
        out.append(f'<g class="state" id={quoteattr("state-" + name)}><title>{escape(state.label + extra)}</title>'
                   f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="8" '
                   f'fill="{FILL[state.kind]}" stroke="#333"/>'
                   f'<text x="{x + BOX_W / 2}" y="{y + 20}" text-anchor="middle" font-weight="bold">'
                   f"{escape(name)}</text>"
                   f'<text x="{x + BOX_W / 2}" y="{y + 38}" text-anchor="middle" font-size="11">'
                   f"{escape(state.label)}</text></g>")
    y = height_graph + 30
    out.append(f'<text x="{MARGIN}" y="{y}" font-weight="bold">The case stays where it is (内部动作):</text>')
    for trigger in listed:
        y += LINE_H
        t = internal_info[trigger]
        states = [s for s in machine.states if trigger in internal[s]]
        out.append(f'<text x="{MARGIN}" y="{y}" class="internal">{escape(trigger)} — {escape(t.label)} '
                   f'({escape(t.article.chinese)}; {escape("/".join(t.roles))}) on: {escape(", ".join(states))}</text>')
    out.append("</svg>")
    return "\n".join(out)
