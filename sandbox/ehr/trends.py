"""Geometry of the chart's trend graphics: small-multiple panels on a shared date axis and sparklines
(UI-GUIDE §2 Vitals and Labs). Pure functions of numbers and dates; templates only draw what they return.

Straight segments between readings, no smoothing (UI-GUIDE §8). Time is a day number (proleptic ordinal plus the
fraction of the day written in the record), so every panel given the same ``Domain`` shares its x axis.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from .. import formatting as fmt

# Panel layout in SVG user units (rendered 1:1 in CSS pixels): room on the left for y labels, on the right for
# the latest value's label, on top for the title and at the bottom for the date labels.
PANEL_WIDTH, PANEL_HEIGHT = 352, 156
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 38, 42, 26, 22
LABEL_GAP = 12  # least vertical distance between two latest-value labels
MAX_DOTS = 60  # beyond this many readings the dots would blur into the line
CHAR_WIDTH = 6.2  # average width of an 11 px system-font character, for laying out the legend


@dataclass(frozen=True)
class Reading:
    day: float  # day number: date.toordinal() plus the time of day as a fraction
    value: float
    when: str  # the record's own date text, for labels
    text: str  # the value as people read it ("148", "37.1")


@dataclass(frozen=True)
class Series:
    label: str  # "Systolic BP"
    readings: tuple[Reading, ...]  # oldest first
    band: tuple[float, float] | None = None  # shaded normal or reference range


@dataclass(frozen=True)
class Domain:
    start: float
    end: float


def day_number(text: str | None) -> float | None:
    """The day number of a FHIR date or dateTime with a full date; None for partial or missing dates."""
    day, time, precision = fmt.parse(text)
    if precision != "day":
        return None
    hours, minutes = (int(part) for part in time.split(":")) if time else (0, 0)
    return day.toordinal() + (hours * 60 + minutes) / 1440


def number_text(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}"


def span_text(values: list[float], decimals: int) -> str:
    low, high = min(values), max(values)
    return number_text(low, decimals) if low == high else f"{number_text(low, decimals)}–{number_text(high, decimals)}"


def describe(series: Series, unit: str, decimals: int, noun: str = "reading") -> str:
    """``Systolic BP, 6 readings, 128–152 mmHg, latest 148 on 03-Mar-2025`` (the chart's text equivalent)."""
    readings = series.readings
    if not readings:
        return f"{series.label}, no {noun}s"
    last = readings[-1]
    unit_part = f" {unit}" if unit else ""
    count = f"{len(readings)} {noun}{'' if len(readings) == 1 else 's'}"
    if len(readings) == 1:
        return f"{series.label}, {count}, {last.text}{unit_part} on {fmt.date(last.when)}"
    values = [r.value for r in readings]
    return (f"{series.label}, {count}, {span_text(values, decimals)}{unit_part}, "
            f"latest {last.text} on {fmt.date(last.when)}")


# -- scales and ticks -------------------------------------------------------------------------------------------


def shared_domain(series: list[Series]) -> Domain | None:
    """The date range every panel uses: first to last reading of all series, padded so no dot sits on an edge."""
    days = [r.day for s in series for r in s.readings]
    if not days:
        return None
    start, end = min(days), max(days)
    if end - start < 1:  # one visit: a day either side, the readings in the middle
        return Domain(start - 1, end + 1)
    pad = (end - start) * 0.03
    return Domain(start - pad, end + pad)


def _widen(low: float, high: float, min_span: float) -> tuple[float, float]:
    """Stretch a range to at least ``min_span`` about its middle, so a steady measure looks steady rather than
    having noise of a tenth blown up to the full height."""
    if high - low >= min_span:
        return low, high
    middle = (low + high) / 2
    return middle - min_span / 2, middle + min_span / 2


def value_axis(values: list[float], most: int = 5, min_span: float = 0) -> tuple[float, float, list[float]]:
    """(low, high, ticks) of a y axis: the values (data and band edges), at least ``min_span`` apart, with 10%
    room above and below, and round ticks (1, 2 or 5 × 10ⁿ apart) inside, the smallest step giving ≤ ``most``."""
    low, high = _widen(min(values), max(values), min_span)
    pad = (high - low) * 0.1 or max(abs(high) * 0.05, 1)
    low, high = low - pad, high + pad
    power = 10 ** math.floor(math.log10((high - low) / (most + 1)))
    for step in (m * power * scale for scale in (1, 10, 100) for m in (1, 2, 5)):
        ticks = [round(n * step, 10) for n in range(math.ceil(low / step), math.floor(high / step) + 1)]
        if len(ticks) <= most:
            return low, high, ticks
    return low, high, [low, high]


def tick_decimals(ticks: list[float]) -> int:
    """The fewest decimals that write every tick exactly (``2.5, 5, 7.5`` → 1)."""
    return next((d for d in range(3) if all(abs(t - round(t, d)) < 1e-9 for t in ticks)), 3)


def _months(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def date_ticks(domain: Domain, most: int = 4) -> list[tuple[float, str]]:
    """(day number, label) for the shared x axis: years over long spans, months over a few months, else days;
    labels keep the dd-Mmm-yyyy family (``2024``, ``Mar-2025``, ``03-Mar-2025``)."""
    start, end = dt.date.fromordinal(math.ceil(domain.start)), dt.date.fromordinal(math.floor(domain.end))
    span = domain.end - domain.start
    if span <= 2.5:  # one visit
        middle = dt.date.fromordinal(int((domain.start + domain.end) / 2))
        return [(middle.toordinal() + 0.5, fmt.date(middle.isoformat()))]
    if span >= 3 * 365:
        years = range(start.year + (start > dt.date(start.year, 1, 1)), end.year + 1)
        step = next(s for s in (1, 2, 5, 10, 20, 50) if len(years[::s]) <= most)
        picked = [y for y in years if y % step == 0] or list(years[::step])
        return [(dt.date(y, 1, 1).toordinal(), str(y)) for y in picked]
    if span >= 75:
        first = _months(start) + (start.day > 1)
        months = range(first, _months(end) + 1)
        step = next(s for s in (1, 2, 3, 6, 12) if len(months[::s]) <= most)
        picked = [m for m in months if m % step == 0] or list(months[::step])
        return [(dt.date(m // 12, m % 12 + 1, 1).toordinal(),
                 fmt.date(f"{m // 12:04d}-{m % 12 + 1:02d}")) for m in picked]
    days = range(start.toordinal(), end.toordinal() + 1)
    step = next(s for s in (1, 2, 7, 14, 28) if len(days[::s]) <= min(most, 3))
    return [(d, fmt.date(dt.date.fromordinal(d).isoformat())) for d in days[::step]]


class Scale:
    """A linear map from data values to SVG coordinates."""

    def __init__(self, low: float, high: float, start: float, end: float):
        self.low, self.high, self.start, self.end = low, high, start, end

    def __call__(self, value: float) -> float:
        if self.high == self.low:
            return round((self.start + self.end) / 2, 1)
        return round(self.start + (value - self.low) / (self.high - self.low) * (self.end - self.start), 1)


def points_text(points: list[tuple[float, float]]) -> str:
    return " ".join(f"{x:g},{y:g}" for x, y in points)


# -- panels -------------------------------------------------------------------------------------------------------


def _spread(labels: list[dict], top: float, bottom: float) -> None:
    """Move latest-value labels apart vertically so two series ending close together stay readable."""
    labels.sort(key=lambda label: label["y"])
    for above, below in zip(labels, labels[1:], strict=False):
        if below["y"] - above["y"] < LABEL_GAP:
            below["y"] = above["y"] + LABEL_GAP
    overflow = labels[-1]["y"] - bottom if labels else 0
    if overflow > 0:
        for label in labels:
            label["y"] = max(top, label["y"] - overflow)


def panel(key: str, title: str, unit: str, series: list[Series], domain: Domain, decimals: int,
          band_note: str = "", min_span: float = 0) -> dict:
    """One small multiple: the title (units included), the text summary, shaded bands, axes and one line per
    series, with the latest reading marked and labelled. ``domain`` is shared by all panels of a chart."""
    left, right = MARGIN_LEFT, PANEL_WIDTH - MARGIN_RIGHT
    top, bottom = MARGIN_TOP, PANEL_HEIGHT - MARGIN_BOTTOM
    values = [r.value for s in series for r in s.readings]
    values += [edge for s in series if s.band for edge in s.band]
    low, high, ticks = value_axis(values, min_span=min_span)
    y = Scale(low, high, bottom, top)
    x = Scale(domain.start, domain.end, left, right)
    lines, labels = [], []
    for n, s in enumerate(series):
        points = [(x(r.day), y(r.value)) for r in s.readings]
        if not points:
            continue
        last = s.readings[-1]
        lines.append({"n": n, "points": points_text(points) if len(points) > 1 else "",
                      "dots": points[:-1] if len(points) <= MAX_DOTS else [], "last": points[-1]})
        labels.append({"x": points[-1][0] + 6, "y": points[-1][1], "text": last.text, "n": n})
    _spread(labels, top + 4, bottom)
    bands = []
    for s in series:
        if s.band:
            high, low = y(s.band[1]), y(s.band[0])
            bands.append({"x": left, "y": high, "width": right - left, "height": round(low - high, 1)})
    summary = ". ".join(describe(s, unit, decimals) for s in series)
    return {
        "id": f"trend-{key}",
        "title": f"{title} ({unit})" if unit else title,
        "desc": summary + "." + (f" {band_note}" if band_note else ""),
        "width": PANEL_WIDTH, "height": PANEL_HEIGHT,
        "plot": {"left": left, "right": right, "top": top, "bottom": bottom},
        "bands": bands,
        "y_ticks": [{"y": y(t), "text": number_text(t, tick_decimals(ticks))} for t in ticks],
        "x_ticks": [{"x": x(day), "text": text} for day, text in date_ticks(domain)],
        "lines": lines,
        "labels": labels,
        "legend": _legend(series),
    }


def _legend(series: list[Series]) -> list[dict]:
    """A key at the top right when a panel has several lines: a line sample and the label's first word
    (``Systolic``), laid out from the right edge with an estimate of the text's width."""
    if len(series) < 2:
        return []
    items, right = [], PANEL_WIDTH
    for n, s in reversed(list(enumerate(series))):
        word = s.label.split()[0]
        right -= 18 + round(len(word) * CHAR_WIDTH)
        items.insert(0, {"n": n, "text": word, "x": right})
        right -= 10
    return items


# -- sparklines -------------------------------------------------------------------------------------------------


def sparkline(series: list[Series], width: float, height: float, pad: float = 2.5,
              min_span: float = 0) -> dict | None:
    """A small line per series on its own time range, the band (if any) shaded, the last point marked.
    None when there is nothing to draw."""
    readings = [r for s in series for r in s.readings]
    if not readings:
        return None
    values = [r.value for r in readings] + [edge for s in series if s.band for edge in s.band]
    days = [r.day for r in readings]
    low, high = _widen(min(values), max(values), min_span)
    if high - low < 1e-9:
        low, high = low - 1, high + 1
    x = Scale(min(days), max(days), pad, width - pad)
    y = Scale(low, high, height - pad, pad)
    lines, bands = [], []
    for n, s in enumerate(series):
        points = [(x(r.day), y(r.value)) for r in s.readings]
        if points:
            lines.append({"n": n, "points": points_text(points) if len(points) > 1 else "", "last": points[-1],
                          "dots": points[:-1] if len(points) <= MAX_DOTS else []})
        if s.band:
            top, base = y(s.band[1]), y(s.band[0])
            bands.append({"x": 0, "y": top, "width": width, "height": round(base - top, 1)})
    return {"width": width, "height": height, "lines": lines, "bands": bands}
