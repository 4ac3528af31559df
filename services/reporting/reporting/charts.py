"""Charts as server-side SVG (pygal), placed inline in a page: nothing is fetched from elsewhere,
nothing runs in the browser, and a slow office PC only draws a picture.

pygal's SVG is cleaned for the page's Content-Security-Policy: its script is dropped (the page
allows none), its stylesheet is taken out so the page puts it in ``<head>`` and admits it by
hash, and its style attributes (tooltips, which need the script anyway) go. The chart is one
image for a screen reader (``role="img"``) named by its title and described by a text
alternative; its numbers are in a table beside it (the page's job). A missing value (``None``:
*tidak ada data*) is a gap in a line and no bar, never 0. Series of a line chart differ by dash
pattern as well as colour, and the legend names the pattern.
"""
from __future__ import annotations

import itertools
import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Sequence

import pygal
from markupsafe import Markup
from pygal.style import Style

from rehsos import indonesian

SVG = "http://www.w3.org/2000/svg"
XLINK = "http://www.w3.org/1999/xlink"
ET.register_namespace("", SVG)
ET.register_namespace("xlink", XLINK)

# Dark enough for text-level contrast on white, and told apart by people with the common colour
# vision deficiencies (Okabe–Ito, darkened); patterns carry the difference too.
COLOURS = ("#0b5d3b", "#b35900", "#1f5f99", "#a8326e", "#5c5c00", "#006b80", "#6b3fa0", "#7a4b00")
# (dash array for the SVG stroke, how the legend names it)
PATTERNS = ((None, "garis penuh"), ("12,6", "garis putus-putus"), ("2,6", "garis titik-titik"),
            ("14,5,3,5", "garis titik-strip"))
STYLE = Style(
    background="transparent", plot_background="#ffffff", foreground="#1d2733", foreground_strong="#1d2733",
    foreground_subtle="#5a6573", colors=COLOURS, opacity="1", opacity_hover="1", stroke_opacity="1",
    stroke_opacity_hover="1", font_family="system-ui, sans-serif", label_font_size=15, major_label_font_size=15,
    value_font_size=15, value_label_font_size=15, legend_font_size=15, title_font_size=17, no_data_font_size=24,
    guide_stroke_color="#c5ccd6", major_guide_stroke_color="#8a95a3")
_PREFIX = re.compile(r"#chart-[0-9a-f-]{36}")


@dataclass(frozen=True)
class Series:
    """One line, or one colour of bars: a value per label, ``None`` where there is no data."""
    name: str
    values: Sequence[float | int | None]


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    description: str  # the text alternative
    svg: Markup  # the inline <svg>
    css: str  # its stylesheet: for a <style> in the page's head, admitted by hash


def _formatter(decimals: int):
    return lambda value: "" if value is None else indonesian.number(value, decimals)


def _config(title: str, decimals: int, **options) -> dict:
    return dict(title=title, style=STYLE, js=[], disable_xml_declaration=True, width=640, height=400,
                value_formatter=_formatter(decimals), no_data_text="Tidak ada data", legend_at_bottom=True,
                truncate_legend=-1, truncate_label=-1, print_zeroes=True, **options)


def _ticks(series: Sequence[Series], decimals: int) -> dict:
    """Axis from 0 in round steps (1, 2, 5 × 10^k): counts never get a tick between two whole numbers."""
    top = max((v for s in series for v in s.values if v is not None), default=0)
    if top <= 0:
        return {"range": (0, 1), "y_labels": [0, 1]}
    unit = 10 ** -decimals
    step = next(m * unit * 10 ** e for e in itertools.count() for m in (1, 2, 5) if top / (m * unit * 10 ** e) <= 8)
    count = math.ceil(top / step)
    labels = [round(i * step, decimals) if decimals else int(i * step) for i in range(count + 1)]
    return {"range": (0, labels[-1]), "y_labels": labels}


def _describe(title: str, labels: Sequence[str], series: Sequence[Series], decimals: int) -> str:
    """What the chart shows, in words: for each series its highest value and where data is missing."""
    parts = []
    for s in series:
        known = [(v, label) for v, label in zip(s.values, labels) if v is not None]
        missing = [label for v, label in zip(s.values, labels) if v is None]
        if not known:
            parts.append(f"{s.name}: tidak ada data")
            continue
        top, at = max(known, key=lambda k: k[0])
        text = f"{s.name}: tertinggi {indonesian.number(top, decimals)} ({at})"
        if missing:
            text += f", tidak ada data untuk {', '.join(missing)}"
        parts.append(text)
    return f"{title}. " + ("; ".join(parts) + ". " if parts else "") + "Angka lengkap ada pada tabel di samping grafik."


def _clean(chart_id: str, title: str, description: str, svg_text: str) -> tuple[Markup, str]:
    root = ET.fromstring(svg_text)
    css = []
    for parent in list(root.iter()):
        for child in list(parent):
            tag = child.tag.rsplit("}", 1)[-1]
            if tag == "style":
                css.append(child.text or "")
                parent.remove(child)
            elif tag == "script" or (tag in ("desc", "title") and child.get("id") is None) or "tooltip-overlay" in (
                    child.get("class") or ""):
                parent.remove(child)
    for element in root.iter():
        element.attrib.pop("style", None)
    root.set("id", chart_id)
    root.set("role", "img")
    root.set("aria-labelledby", f"{chart_id}-judul {chart_id}-uraian")
    title_el = ET.Element(f"{{{SVG}}}title", id=f"{chart_id}-judul")
    title_el.text = title
    desc_el = ET.Element(f"{{{SVG}}}desc", id=f"{chart_id}-uraian")
    desc_el.text = description
    root.insert(0, desc_el)
    root.insert(0, title_el)
    return Markup(ET.tostring(root, encoding="unicode")), _PREFIX.sub(f"#{chart_id}", "\n".join(css))


def _finish(chart, chart_id, title, labels, series, decimals, description) -> Chart:
    description = description or _describe(title, labels, series, decimals)
    svg, css = _clean(chart_id, title, description, chart.render(is_unicode=True))
    return Chart(id=chart_id, title=title, description=description, svg=svg, css=css)


def line(chart_id: str, title: str, labels: Sequence[str], series: Sequence[Series], *, decimals: int = 0,
         description: str | None = None) -> Chart:
    """A trend: one line per series over ``labels`` (months); ``None`` breaks the line."""
    chart = pygal.Line(**_config(title, decimals, allow_interruptions=True, x_label_rotation=30,
                                 show_minor_x_labels=len(labels) <= 12, x_labels_major_count=12, dots_size=4,
                                 **_ticks(series, decimals)))
    chart.x_labels = list(labels)
    for index, s in enumerate(series):
        dash, name = PATTERNS[index % len(PATTERNS)]
        legend = f"{s.name} ({name})" if len(series) > 1 else s.name
        chart.add(legend, list(s.values), stroke_style={"width": 3, **({"dasharray": dash} if dash else {})})
    return _finish(chart, chart_id, title, labels, series, decimals, description)


def bars(chart_id: str, title: str, labels: Sequence[str], series: Sequence[Series], *, decimals: int = 0,
         description: str | None = None) -> Chart:
    """Horizontal bars, one group per label (regencies read down the page on a phone); each bar
    carries its number, so the chart is read without telling colours apart."""
    height = max(300, 120 + len(labels) * (20 + 18 * len(series)))
    chart = pygal.HorizontalBar(**{**_config(title, decimals, print_values=True, print_values_position="top",
                                             **_ticks(series, decimals)), "height": height})
    # pygal draws the first label at the bottom: reversed, the chart reads top-down like the table.
    chart.x_labels = list(reversed(labels))
    for s in series:
        chart.add(s.name, list(reversed(s.values)))
    return _finish(chart, chart_id, title, labels, series, decimals, description)
