"""Pure helpers of the benchmarks: percentiles, summaries, ratios, verdicts and markdown tables."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100), linear interpolation between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= p <= 100:
        raise ValueError(f"percentile {p} outside 0-100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Summary:
    n: int
    median: float
    p95: float
    minimum: float
    maximum: float


def summarize(values: Sequence[float]) -> Summary | None:
    """Median, p95, min and max; None for no values."""
    if not values:
        return None
    return Summary(len(values), percentile(values, 50), percentile(values, 95), min(values), max(values))


def ratio(ours: float | None, stock: float | None) -> float | None:
    """ours / stock, None when either is missing or stock is zero."""
    if ours is None or stock is None or stock == 0:
        return None
    return ours / stock


def verdict(met: bool | None) -> str:
    """How a target reads in the table: plain when met, loud when missed."""
    if met is None:
        return "not measured"
    return "met" if met else "**MISSED**"


def fmt_ms(seconds: float | None) -> str:
    """Seconds as milliseconds with one decimal ('-' for None)."""
    return "-" if seconds is None else f"{seconds * 1000:.1f}"


def fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub markdown table; cells are str()-ed, pipes escaped, columns padded for plain-text reading."""
    cells = [[str(h) for h in headers], *[[str(c).replace("|", "\\|") for c in row] for row in rows]]
    if any(len(row) != len(headers) for row in cells):
        raise ValueError("every row needs one cell per header")
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + " |"

    separator = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return "\n".join([line(cells[0]), separator, *(line(row) for row in cells[1:])])
