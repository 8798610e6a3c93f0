"""The comparison chart's layout: every variant findable and hoverable.

The rows are real: the quick start's comparison of the digits CNN (``nbopt demo``) and the
same rows with an int8 variant with int8 I/O, one with a layer kept float, a pruned and a
clustered one, saved by nbopt before payload version 2 as the extension's fixtures
(``labextension/test/payloads/*.v1.json``). The JupyterLab extension draws the same layout
(it comes in the payload), so what is asserted here holds in both.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from nbopt.display.chart import BOTTOM, HEIGHT, LEFT, RIGHT, TOP, WIDTH, chart_layout
from nbopt.display.scales import text_width

PAYLOADS = Path(__file__).resolve().parent.parent / "labextension" / "test" / "payloads"


def measured(name: str) -> list[dict]:
    """The measured rows of the saved payload ``name``."""
    return json.loads((PAYLOADS / f"{name}.v1.json").read_text(encoding="utf-8"))["rows"]


def markers(layout: dict) -> dict[tuple[int, ...], dict]:
    """The chart's markers by the rows they stand for."""
    return {tuple(i["rows"]): i for i in layout["items"] if i["el"] == "circle" and "rows" in i}


def labels(layout: dict) -> list[dict]:
    return [i for i in layout["items"] if i["cls"] == "nbopt-point-label"]


def box(label: dict) -> tuple[float, float, float, float]:
    """A label's box (x0, y0, x1, y1) from its anchor, at the chart's 11 px font."""
    w = text_width(label["text"])
    x0 = label["x"] - {"start": 0, "middle": w / 2, "end": w}[label["anchor"]]
    return x0, label["y"] - 10, x0 + w, label["y"] + 3


def meets(a: tuple, b: tuple) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_the_quick_starts_three_near_identical_variants_are_one_marker_naming_them_all():
    layout = chart_layout(measured("quickstart"))
    drawn = markers(layout)
    # dynamic, int8 and int16x8: 155.9, 158.8 and 161.2 KB at the same 96.1%
    assert sorted(drawn) == [(0,), (1,), (2, 3, 4)]
    group = drawn[(2, 3, 4)]
    assert group["tip"].splitlines() == [
        "dynamic: 155.9 KB (3.87× smaller), accuracy 96.1% (+0.0 pt), latency 2.8 µs "
        "(Pareto front)",
        "int8: 158.8 KB (3.80× smaller), accuracy 96.1% (+0.0 pt), latency 3.5 µs",
        "int16x8: 161.2 KB (3.74× smaller), accuracy 96.1% (+0.0 pt), latency 123 µs",
    ]
    assert "nbopt-group" in group["cls"] and "nbopt-pareto" in group["cls"]
    count = next(i for i in layout["items"] if i["cls"] == "nbopt-count" and i["x"] == group["cx"])
    assert count["text"] == "3"
    # Each variant still has its own label, with its own tooltip.
    by_text = {label["text"]: label for label in labels(layout)}
    assert sorted(by_text) == ["dynamic", "float16", "float32", "int16x8", "int8"]
    assert by_text["int8"]["rows"] == [3]
    assert by_text["int8"]["tip"] == group["tip"].splitlines()[1]
    assert layout["front_rows"] == [2] and not layout["log"]
    ticks = [i["text"] for i in layout["items"] if "nbopt-tick-x" in i["cls"]]
    assert ticks == ["0", "200", "400", "600"]


def test_ram_spanning_two_decades_is_a_log_axis_that_spreads_the_small_ones():
    layout = chart_layout(measured("quickstart"), "ram_bytes")
    assert layout["log"] and layout["front_rows"] == [3]  # int8 needs the least RAM
    texts = [i["text"] for i in layout["items"] if i["el"] == "text"]
    assert "RAM (KB, log scale), smaller is better" in texts
    ticks = [i["text"] for i in layout["items"] if "nbopt-tick-x" in i["cls"]]
    assert ticks == ["2", "5", "10", "20", "50", "100", "200", "500"]
    drawn = markers(layout)
    # float32 and dynamic both need 9.0 KB at 96.1%: one marker; the others apart.
    assert sorted(drawn) == [(0, 2), (1,), (3,), (4,)]
    x = {rows: m["cx"] for rows, m in drawn.items()}
    # int8 2.2 KB, int16x8 4.5 KB, float32 and dynamic 9.0 KB: equal ratios, equal steps
    assert x[(4,)] - x[(3,)] == pytest.approx(x[(0, 2)] - x[(4,)], abs=2)
    assert x[(4,)] - x[(3,)] > 40
    assert x[(1,)] > WIDTH - RIGHT - 40  # float16's 581 KB at the right end


@pytest.mark.parametrize("name", ["quickstart", "variety"])
@pytest.mark.parametrize("x", ["size_bytes", "ram_bytes"])
def test_labels_cover_nothing_stay_in_the_plot_and_a_leader_joins_each_distant_one(name, x):
    rows = measured(name)
    layout = chart_layout(rows, x)
    drawn = markers(layout)
    ok = [i for i, r in enumerate(rows) if r["status"] == "ok"]
    assert sorted(r for rows_ in drawn for r in rows_) == ok  # every variant, in one marker
    discs = list(drawn.values())
    for i, a in enumerate(discs):  # no marker hides another
        for b in discs[i + 1 :]:
            gap = math.hypot(a["cx"] - b["cx"], a["cy"] - b["cy"])
            assert gap >= a["r"] + b["r"]
    boxes = [box(label) for label in labels(layout)]
    assert len(boxes) == len(ok)
    for i, a in enumerate(boxes):
        assert (
            LEFT <= a[0] and a[2] <= WIDTH - RIGHT and TOP - 8 <= a[1] and a[3] <= HEIGHT - BOTTOM
        )
        assert not any(meets(a, b) for b in boxes[i + 1 :])
        assert not any(
            meets(a, (m["cx"] - m["r"], m["cy"] - m["r"], m["cx"] + m["r"], m["cy"] + m["r"]))
            for m in discs
        )
    leaders = {tuple(i["rows"]): i for i in layout["items"] if i["cls"] == "nbopt-leader"}
    for rows_, m in drawn.items():
        own = [box(label) for label in labels(layout) if label["rows"][0] in rows_]
        x0, y0 = min(b[0] for b in own), min(b[1] for b in own)
        x1, y1 = max(b[2] for b in own), max(b[3] for b in own)
        qx, qy = min(max(m["cx"], x0), x1), min(max(m["cy"], y0), y1)
        if math.hypot(qx - m["cx"], qy - m["cy"]) > m["r"] + 8:
            line = leaders[rows_]  # a label away from its marker is joined to it
            assert math.hypot(line["x1"] - m["cx"], line["y1"] - m["cy"]) == pytest.approx(
                m["r"], abs=0.2
            )
            assert x0 - 4 <= line["x2"] <= x1 + 4 and y0 - 4 <= line["y2"] <= y1 + 4


def test_the_variety_names_integer_io_and_float_layers_on_the_chart():
    layout = chart_layout(measured("variety"))
    names = {label["text"] for label in labels(layout)}
    assert {"int8 (int8 I/O)", "int8 float=dense (int8 I/O)", "prune", "cluster"} <= names
    assert layout["front_rows"] == [2, 8]  # dynamic (smallest), cluster (most accurate)
    # int8 float=dense (587.7 KB) is beside float32 (603.3 KB): its label is out, on a leader
    leader = next(i for i in layout["items"] if i["cls"] == "nbopt-leader")
    assert leader["rows"] == [6]


def test_a_lower_is_better_metric_turns_the_axis_and_the_front():
    rows = [
        {"technique": "baseline", "scheme": "float32", "status": "ok", "size_bytes": 400_000},
        {"technique": "ptq", "scheme": "int8", "status": "ok", "size_bytes": 100_000},
        {"technique": "ptq", "scheme": "int16x8", "status": "ok", "size_bytes": 200_000},
    ]
    for r, wer in zip(rows, (0.10, 0.30, 0.12)):
        r.update(metric="wer", higher_is_better=False, accuracy=wer, latency_ms=0.01)
    layout = chart_layout(rows)
    assert layout["title"] == "size against wer (lower is better); circle size: latency"
    assert layout["front_rows"] == [0, 1, 2]
    y = {rows_[0]: m["cy"] for rows_, m in markers(layout).items()}
    assert y[1] < y[2] < y[0]  # values up, as the axis label says: lower is better
