"""An SVG drawing of a machine, derived from its table (no graphviz needed).

Layout: the start state and the rungs in columns by their distance from the start along
the table's moving transitions; then one column for the states every rung can pass through
(review, appeal or dispute), then one for the closed states; table order within a column. Each pair of states joined by
transitions gets one curved arrow labelled with its triggers (arrows in opposite
directions bend to opposite sides), its triggers one a line on a white ground, placed
at the first point along the curve where they cover no state and no other label (the
middle columns, where review and appeal meet every rung, are crowded). Transitions that
leave the case where it is (public notice, referral, confirmations) are listed under the
drawing with the states they apply to.

The text is Chinese: the font list names the common CJK fonts before ``sans-serif``, as
renderers that take only the first family (cairosvg, some converters) need a CJK one there.
"""
from __future__ import annotations

import math
from collections import defaultdict
from xml.sax.saxutils import escape, quoteattr

from workflow.machines.base import NEW, CaseMachine
from workflow.machines.lifecycle import Lifecycle

BOX_W, BOX_H = 190, 50
COL_GAP, ROW_GAP = 180, 60
MARGIN = 40
LINE_H = 18
FONTS = "'Noto Sans CJK SC', 'Source Han Sans SC', 'Microsoft YaHei', 'PingFang SC', 'WenQuanYi Zen Hei', sans-serif"
LABEL_SIZE, LABEL_LINE, LABEL_CHAR_W = 10, 12, 6.0  # edge labels: font size, line height, width of a character
# Where along an edge (Bezier parameter) and how far off it a label may go, in order of preference.
LABEL_SPOTS = [(t, off) for off in (0, 14, -14) for t in (0.5, 0.42, 0.58, 0.34, 0.66, 0.26, 0.74, 0.2, 0.8)]
FILL = {"start": "#eeeeee", "rung": "#fff4d6", "review": "#e3f0ff", "appeal": "#f3e5ff", "closed": "#e4f5e4", "handed_on": "#fde8e0"}


def _columns(machine: CaseMachine | Lifecycle) -> list[list[str]]:
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
    kinds = {name: spec.kind for name, spec in machine.states.items()}
    ladder = max((d for name, d in depth.items() if kinds[name] in ("start", "rung")), default=0)
    for name, kind in kinds.items():
        if kind in ("review", "appeal"):
            depth[name] = ladder + 1
        elif kind == "closed":
            depth[name] = ladder + 2
    columns: list[list[str]] = [[] for _ in range(max(depth.values()) + 1)]
    for name in machine.states:
        columns[depth[name]].append(name)
    return [column for column in columns if column]


def _anchor(box: tuple[float, float], toward: tuple[float, float]) -> tuple[float, float]:
    """Where the line from the box's centre toward ``toward`` leaves the box."""
    cx, cy = box[0] + BOX_W / 2, box[1] + BOX_H / 2
    dx, dy = toward[0] - cx, toward[1] - cy
    if dx == 0 and dy == 0:
        return cx, cy
    scale = min((BOX_W / 2) / abs(dx) if dx else math.inf, (BOX_H / 2) / abs(dy) if dy else math.inf)
    return cx + dx * scale, cy + dy * scale


Rect = tuple[float, float, float, float]  # x, y, width, height


def _overlap(a: Rect, b: Rect) -> float:
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def _place_label(lines: list[str], start, control, end, taken: list[Rect]) -> Rect:
    """The box for a label on the curve start-control-end: the first spot that covers nothing
    in ``taken``, else the one that covers least. The box is added to ``taken``."""
    width = max(len(line) for line in lines) * LABEL_CHAR_W + 6
    height = len(lines) * LABEL_LINE + 4
    dx, dy = end[0] - start[0], end[1] - start[1]
    length = math.hypot(dx, dy) or 1
    best: tuple[float, Rect] | None = None
    for t, off in LABEL_SPOTS:
        x = (1 - t) ** 2 * start[0] + 2 * t * (1 - t) * control[0] + t ** 2 * end[0] - dy / length * off
        y = (1 - t) ** 2 * start[1] + 2 * t * (1 - t) * control[1] + t ** 2 * end[1] + dx / length * off
        rect = (x - width / 2, y - height / 2, width, height)
        cost = sum(_overlap(rect, other) for other in taken)
        if best is None or cost < best[0]:
            best = (cost, rect)
        if cost == 0:
            break
    assert best is not None
    taken.append(best[1])
    return best[1]


def render_svg(machine: CaseMachine | Lifecycle, current: str | None = None) -> str:
    """The machine as an SVG diagram; ``current``, a state's name, is drawn highlighted (a
    case's page shows where the case stands) and marked ``aria-current``."""
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
    height = height_graph + (30 + LINE_H * (len(listed) + 1) if listed else 0) + MARGIN

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="{FONTS}" font-size="12">',
        "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" "
        "markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#555\"/>"
        "</marker></defs>",
        f'<text x="{MARGIN}" y="{MARGIN}" font-size="16" font-weight="bold">'
        f"{escape(machine.label)} ({escape(machine.name)}, {escape(machine.article.chinese)})</text>",
    ]
    taken: list[Rect] = [(x, y, BOX_W, BOX_H) for x, y in pos.values()]
    labels: list[str] = []  # drawn after every edge, so that no line crosses a label
    for (source, dest), triggers in edges.items():
        a, b = pos[source], pos[dest]
        ca = (a[0] + BOX_W / 2, a[1] + BOX_H / 2)
        cb = (b[0] + BOX_W / 2, b[1] + BOX_H / 2)
        dx, dy = cb[0] - ca[0], cb[1] - ca[1]
        length = math.hypot(dx, dy) or 1
        bend = 28 + (12 if (dest, source) in edges else 0)
        control = ((ca[0] + cb[0]) / 2 - dy / length * bend, (ca[1] + cb[1]) / 2 + dx / length * bend)
        start, end = _anchor(a, control), _anchor(b, control)
        box = _place_label(triggers, start, control, end, taken)
        title = "; ".join(f"{tr}: {machine.by_trigger[tr][0].label} ({machine.by_trigger[tr][0].article.chinese})"
                          for tr in triggers)
        out.append(f'<g class="edge"><title>{escape(title)}</title>'
                   f'<path d="M {start[0]:.1f} {start[1]:.1f} Q {control[0]:.1f} {control[1]:.1f} '
                   f'{end[0]:.1f} {end[1]:.1f}" fill="none" stroke="#555" marker-end="url(#arrow)"/></g>')
        texts = "".join(f'<text x="{box[0] + box[2] / 2:.1f}" y="{box[1] + 2 + (i + 0.8) * LABEL_LINE:.1f}" '
                        f'text-anchor="middle" fill="#1a4d8f" font-size="{LABEL_SIZE}">{escape(trigger)}</text>'
                        for i, trigger in enumerate(triggers))
        labels.append(f'<g class="edge"><title>{escape(title)}</title>'
                      f'<rect x="{box[0]:.1f}" y="{box[1]:.1f}" width="{box[2]:.1f}" height="{box[3]:.1f}" '
                      f'fill="#ffffff" fill-opacity="0.9" stroke="#c8d4e6" stroke-width="0.5" rx="3"/>{texts}</g>')
    for name, (x, y) in pos.items():
        state = machine.states[name]
        extra = f" ({state.article.chinese})" if state.article else ""
        here = name == current
        mark = ' class="state current" aria-current="step"' if here else ' class="state"'
        stroke = 'stroke="#c0392b" stroke-width="3"' if here else 'stroke="#333"'
        out.append(f'<g{mark} id={quoteattr("state-" + name)}><title>{escape(state.label + extra)}</title>'
                   f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="8" '
                   f'fill="{"#ffe0dc" if here else FILL[state.kind]}" {stroke}/>'
                   f'<text x="{x + BOX_W / 2}" y="{y + 20}" text-anchor="middle" font-weight="bold">'
                   f"{escape(name)}</text>"
                   f'<text x="{x + BOX_W / 2}" y="{y + 38}" text-anchor="middle" font-size="11">'
                   f"{escape(state.label)}</text></g>")
    out.extend(labels)
    y = height_graph + 30
    if listed:
        out.append(f'<text x="{MARGIN}" y="{y}" font-weight="bold">The case stays where it is (内部动作):</text>')
    for trigger in listed:
        y += LINE_H
        t = internal_info[trigger]
        states = [s for s in machine.states if trigger in internal[s]]
        out.append(f'<text x="{MARGIN}" y="{y}" class="internal">{escape(trigger)} — {escape(t.label)} '
                   f'({escape(t.article.chinese)}; {escape("/".join(t.roles))}) on: {escape(", ".join(states))}</text>')
    out.append("</svg>")
    return "\n".join(out)
