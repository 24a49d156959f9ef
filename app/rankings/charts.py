"""Small bar charts rendered on the server as inline SVG: no JavaScript library, no CDN,
and they print. Labels may be Chinese; every text is escaped.

Each chart is drawn twice, wide (shown on screens from 600 px and on paper) and narrow
(shown on phones): one viewBox scaled down to a 360 px phone would shrink its 12 px
labels to 6 px. Styles are presentation attributes, as the CSP allows no inline style.

``bar_chart`` draws one series; ``stacked_bar_chart`` stacks several (positive parts
upwards, negative parts downwards from zero); ``grouped_bar_chart`` puts them side by side.
"""

import math

from flask_babel import gettext as _
from markupsafe import Markup, escape

PALETTE = ("#a8322d", "#1e6fa8", "#1e7a3c", "#c98a00", "#6b4aa8", "#0f8a8a", "#8a5a2b", "#c2417a", "#555555")
WIDTH, HEIGHT = 720, 300
PHONE_WIDTH, PHONE_HEIGHT = 360, 280
FONT = "'Noto Sans CJK SC','PingFang SC','Microsoft YaHei',sans-serif"
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 16, 48
LEGEND_ROW = 20


def _nice_step(span: float, ticks: int = 5) -> float:
    raw = span / ticks if span > 0 else 1
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() or abs(value) >= 100 else f"{value:,.1f}"


def _legend(series_names, width: int) -> tuple[list[str], int]:
    """Legend items wrapped into rows; returns the SVG parts and the height they take."""
    parts, x, y = [], LEFT, TOP
    for i, name in enumerate(series_names):
        item_width = 22 + 13 * len(str(name))
        if x + item_width > width - RIGHT and x > LEFT:
            x, y = LEFT, y + LEGEND_ROW
        colour = PALETTE[i % len(PALETTE)]
        parts.append(
            f'<rect x="{x}" y="{y}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{x + 16}" y="{y + 11}" class="legend">{escape(name)}</text>'
        )
        x += item_width
    return parts, (y - TOP + LEGEND_ROW + 4) if series_names else 0


def _fits(text: str, band: float) -> bool:
    """Whether a value label (11 units, digits about 6.5 wide) fits above its bar."""
    return len(text) * 6.5 <= band


def _chart(labels, series, *, title: str, unit: str, mode: str, width: int, height: int) -> Markup:
    """Both drawings: the wide one for screens and paper, the narrow one for phones."""
    wide = _drawing(labels, series, title=title, unit=unit, mode=mode, width=width, height=height, variant="wide")
    narrow = _drawing(
        labels, series, title=title, unit=unit, mode=mode, width=PHONE_WIDTH, height=PHONE_HEIGHT, variant="narrow"
    )
    return Markup(wide + narrow)


def _drawing(labels, series, *, title: str, unit: str, mode: str, width: int, height: int, variant: str) -> str:
    labels = [str(label) for label in labels]
    names = [name for name, _values in series]
    values = [[float(v or 0) for v in vals] for _name, vals in series]
    legend, legend_height = _legend(names, width) if len(series) > 1 else ([], 0)
    top = TOP + legend_height
    plot_h = height - top - BOTTOM
    plot_w = width - LEFT - RIGHT

    if mode == "stacked":
        highs = [sum(v[i] for v in values if v[i] > 0) for i in range(len(labels))]
        lows = [sum(v[i] for v in values if v[i] < 0) for i in range(len(labels))]
    else:
        highs = [max([v[i] for v in values] + [0]) for i in range(len(labels))]
        lows = [min([v[i] for v in values] + [0]) for i in range(len(labels))]
    hi, lo = max(highs + [0]), min(lows + [0])
    step = _nice_step(hi - lo)
    hi = math.ceil(hi / step) * step if hi > 0 else 0
    lo = math.floor(lo / step) * step if lo < 0 else 0
    if hi == lo:
        hi = step

    def y(value: float) -> float:
        return top + plot_h * (hi - value) / (hi - lo)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" class="chart chart-{variant}"'
        f' role="img" aria-label="{escape(title)}" preserveAspectRatio="xMidYMid meet"'
        f' font-size="12" font-family="{FONT}" fill="#1d1d1f">',
        f"<title>{escape(title)}</title>",
        *legend,
    ]
    tick = lo
    while tick <= hi + step / 1000:
        ty = y(tick)
        parts.append(f'<line x1="{LEFT}" x2="{width - RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}" class="grid" stroke="#ddd"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{ty + 4:.1f}" text-anchor="end">{_number(tick)}</text>')
        tick += step
    if unit:
        parts.append(f'<text x="4" y="{top - 4}" class="unit">{escape(unit)}</text>')

    band = plot_w / max(len(labels), 1)
    bar_w = min(band * 0.7, 48 * (len(values) if mode == "grouped" else 1))  # no slabs for 1-2 bars
    rotate = len(labels) > 12 or any(len(label) * 12 > band for label in labels)
    for i, label in enumerate(labels):
        x0 = LEFT + band * i + (band - bar_w) / 2
        if mode == "stacked":
            up, down = 0.0, 0.0
            for s, vals in enumerate(values):
                v = vals[i]
                if not v:
                    continue
                start = up if v > 0 else down
                end = start + v
                if v > 0:
                    up = end
                else:
                    down = end
                top_y, bottom_y = y(max(start, end)), y(min(start, end))
                parts.append(
                    f'<rect x="{x0:.1f}" y="{top_y:.1f}" width="{bar_w:.1f}" height="{bottom_y - top_y:.1f}"'
                    f' fill="{PALETTE[s % len(PALETTE)]}"><title>{escape(label)} · {escape(names[s])}：'
                    f"{_number(v)}{escape(unit)}</title></rect>"
                )
            total = sum(vals[i] for vals in values)
            if (up or down) and _fits(_number(total), band):
                parts.append(
                    f'<text x="{x0 + bar_w / 2:.1f}" y="{y(up) - 4:.1f}" text-anchor="middle" class="value" font-size="11">'
                    f"{_number(total)}</text>"
                )
        else:
            n = len(values)
            each = bar_w / n
            for s, vals in enumerate(values):
                v = vals[i]
                bx = x0 + each * s
                top_y, bottom_y = y(max(v, 0)), y(min(v, 0))
                name = f" · {escape(names[s])}" if n > 1 else ""
                parts.append(
                    f'<rect x="{bx:.1f}" y="{top_y:.1f}" width="{max(each - 1, 1):.1f}"'
                    f' height="{max(bottom_y - top_y, 0):.1f}" fill="{PALETTE[s % len(PALETTE)]}">'
                    f"<title>{escape(label)}{name}：{_number(v)}{escape(unit)}</title></rect>"
                )
                if n == 1 and v and len(labels) <= 16 and _fits(_number(v), band):
                    vy = top_y - 4 if v > 0 else bottom_y + 12
                    parts.append(
                        f'<text x="{bx + each / 2:.1f}" y="{vy:.1f}" text-anchor="middle" class="value" font-size="11">'
                        f"{_number(v)}</text>"
                    )
        lx, ly = LEFT + band * i + band / 2, height - BOTTOM + 16
        if rotate:
            parts.append(
                f'<text x="{lx:.1f}" y="{ly:.1f}" text-anchor="end" transform="rotate(-30 {lx:.1f} {ly:.1f})">'
                f"{escape(label)}</text>"
            )
        else:
            parts.append(f'<text x="{lx:.1f}" y="{ly:.1f}" text-anchor="middle">{escape(label)}</text>')
    if not any(v for vals in values for v in vals):
        no_data = _("暂无数据")
        parts.append(
            f'<text x="{LEFT + plot_w / 2:.1f}" y="{top + plot_h / 2:.1f}" text-anchor="middle" class="empty">'
            f"{escape(no_data)}</text>"
        )
    zero = y(0)
    parts.append(f'<line x1="{LEFT}" x2="{width - RIGHT}" y1="{zero:.1f}" y2="{zero:.1f}" class="axis" stroke="#666"/>')
    parts.append(f'<line x1="{LEFT}" x2="{LEFT}" y1="{top}" y2="{height - BOTTOM}" class="axis" stroke="#666"/>')
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(labels, values, *, title: str, unit: str = "", width: int = WIDTH, height: int = HEIGHT) -> Markup:
    return _chart(labels, [(title, values)], title=title, unit=unit, mode="single", width=width, height=height)


def stacked_bar_chart(
    labels, series, *, title: str, unit: str = "", width: int = WIDTH, height: int = HEIGHT
) -> Markup:
    """``series`` is ``[(name, [value per label]), ...]``."""
    return _chart(labels, series, title=title, unit=unit, mode="stacked", width=width, height=height)


def grouped_bar_chart(
    labels, series, *, title: str, unit: str = "", width: int = WIDTH, height: int = HEIGHT
) -> Markup:
    """``series`` is ``[(name, [value per label]), ...]``, drawn side by side per label."""
    return _chart(labels, series, title=title, unit=unit, mode="grouped", width=width, height=height)
