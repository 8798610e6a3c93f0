"""What ``optimize`` shows at the end of a search: the pick, every candidate with its
verdict, and the front of the goal against the metric (text, HTML + SVG, the JSON payload).

Real searches on the digits CNN (real TensorFlow, LiteRT): budgets in candidates keep them
short. What is asserted is what a user reads off the display: every candidate, its verdict
in its own column, the pick and its line, one point per measured candidate drawn as its
verdict says.
"""

from __future__ import annotations

import html
import re

import pytest

import nbopt
from nbopt.display import COMPARISON_MIME, optimized_bundle
from nbopt.display.optimized import labels
from nbopt.engine.analyse.search import GOALS


@pytest.fixture(scope="module")
def searched(trained_cnn, digits):
    """``nbopt.optimize(trained_cnn, "size", 0.01, fit=..., eval=..., budget=4)``."""
    x_train, y_train, x_test, y_test = digits
    result = nbopt.optimize(
        trained_cnn, "size", 0.01, fit=(x_train, y_train), eval=(x_test, y_test), budget=4
    )
    return result, optimized_bundle(result)


@pytest.fixture(scope="module")
def for_mcu(trained_cnn, digits):
    """A search for the least RAM on a microcontroller with 3 KB: some candidates excluded."""
    x_train, y_train, x_test, y_test = digits
    val, calib = (x_train[-300:], y_train[-300:]), x_train[:200]
    result = nbopt.optimize(
        trained_cnn, "ram", 0.01, calib=calib, val=val, eval=(x_test, y_test),
        target="mcu", ram_kb=3, budget=4,
    )  # fmt: skip
    return result, optimized_bundle(result)


def _markers(layout: dict) -> list[dict]:
    """The chart's markers (a circle per point, or per group of overlapping points)."""
    return [i for i in layout["items"] if i["el"] == "circle" and "rows" in i]


def _class_of(verdict: str) -> str:
    return {"kept": "nbopt-pareto", "over budget": "nbopt-over", "excluded": "nbopt-excluded"}.get(
        verdict.split(":")[0], ""
    )


def test_the_text_names_every_candidate_its_verdict_and_the_pick(searched):
    result, bundle = searched
    text = bundle["text/plain"]
    lines = text.splitlines()
    assert lines[0] == (
        "nbopt optimize: digits_cnn · size within max drop 0.01 · 17 candidates, 4 measured"
    )
    pick = result.rows[result.index]["candidate"]
    assert lines[1:4] == [f"pick: {pick}", result.line, result.reason]
    heading = next(i for i, line in enumerate(lines) if line.startswith("candidate"))
    assert lines[heading].split()[:3] == ["candidate", "status", "verdict"]
    body = lines[heading + 1 : heading + 1 + len(result.rows)]
    for line, r in zip(body, result.rows):
        assert line.startswith(r["candidate"]), line
        assert f" {r['status']} " in line and f" {r['verdict']}" in line, line
    assert sum(r["status"] == "ok" for r in result.rows) == 4
    assert sum(r["status"] == "skipped" for r in result.rows) == 13


def test_the_payload_has_a_verdict_column_the_pick_and_the_goals_front(searched):
    result, bundle = searched
    payload = bundle[COMPARISON_MIME]
    table = payload["table"]
    assert payload["version"] == 2
    assert table["headings"][:3] == ["candidate", "status", "verdict"]
    assert table["keys"][:3] == ["variant", "status", "verdict"]
    assert table["labels"] == [r["candidate"] for r in result.rows]
    assert [c[2] for c in table["cells"]] == [r["verdict"] for r in result.rows]
    assert table["statuses"] == [r["status"] for r in result.rows]
    # A skipped candidate's reason is its verdict, not a note repeated under the table.
    assert not any("not run" in n for n in table["notes"])
    assert payload["pick"] == {
        "label": result.rows[result.index]["candidate"],
        "reason": result.reason,
        "line": result.line,
        "trail": result.trail,
    }
    (chart,) = payload["charts"]
    assert chart["x"] == GOALS["size"] == "size_bytes"
    assert chart["front_rows"] == [i for i, r in enumerate(result.rows) if r["verdict"] == "kept"]


def test_the_chart_has_one_point_per_measured_candidate_drawn_as_its_verdict(searched):
    result, bundle = searched
    (chart,) = bundle[COMPARISON_MIME]["charts"]
    markers = _markers(chart)
    drawn = sorted(row for m in markers for row in m["rows"])
    assert drawn == [i for i, r in enumerate(result.rows) if r["status"] == "ok"]
    names = labels(result)
    for m in markers:
        verdicts = {result.rows[i]["verdict"] for i in m["rows"]}
        if "kept" in verdicts:
            assert "nbopt-pareto" in m["cls"].split()
        elif len(verdicts) == 1:
            drawn_as = set(m["cls"].split()) - {"nbopt-point", "nbopt-group"}
            assert drawn_as == ({_class_of(verdicts.pop())} - {""}), m
        for i in m["rows"]:  # every tooltip says its candidate's verdict
            assert f"{names[i]}: " in m["tip"] and result.rows[i]["verdict"] in m["tip"]
    picked = next(m for m in markers if result.index in m["rows"])
    rings = [i for i in chart["items"] if i["cls"] == "nbopt-pick"]  # on the chart, in the legend
    assert len(rings) == 2
    ring = next(i for i in rings if (i["cx"], i["cy"]) == (picked["cx"], picked["cy"]))
    assert ring["r"] == pytest.approx(picked["r"] + 4)
    (limit,) = [i for i in chart["items"] if i["cls"] == "nbopt-limit-label"]
    assert limit["text"].startswith("max drop 0.01 from float32's ")
    legend = [i["text"] for i in chart["items"] if i["cls"] == "nbopt-legend"]
    assert legend[0] == "kept (front)" and "pick" in legend


def test_the_html_shows_the_pick_every_candidate_and_the_svg_chart(searched):
    result, bundle = searched
    page = bundle["text/html"]
    assert f"<b>pick: {html.escape(result.rows[result.index]['candidate'])}</b>" in page
    assert f"<code>{html.escape(result.line)}</code>" in page
    assert "<th>candidate</th><th>status</th><th>verdict</th>" in page
    for r in result.rows:
        cells = f"<td>{html.escape(r['candidate'])}</td><td>{r['status']}</td>"
        assert cells + f"<td>{html.escape(r['verdict'])}</td>" in page
    svg = page[page.index("<svg") :]
    points = re.findall(r'<circle class="nbopt-point[^"]*"[^>]*data-rows="([\d ]+)"', svg)
    drawn = sorted(int(i) for p in points for i in p.split())
    assert drawn == [i for i, r in enumerate(result.rows) if r["status"] == "ok"]
    assert 'class="nbopt-pick"' in svg and 'class="nbopt-limit"' in svg


def test_ipython_shows_an_optimized_result_as_its_bundle(searched, ip):
    result, bundle = searched
    data, _ = ip.display_formatter.format(result)
    assert data[COMPARISON_MIME] == bundle[COMPARISON_MIME]
    assert data["text/plain"] == bundle["text/plain"]


def test_a_ram_goal_on_a_microcontroller_draws_the_excluded_apart(for_mcu):
    result, bundle = for_mcu
    (chart,) = bundle[COMPARISON_MIME]["charts"]
    assert chart["x"] == "ram_bytes"
    x_label = next(i["text"] for i in chart["items"] if i["cls"] == "nbopt-axis-label")
    assert x_label.startswith("RAM (KB") and x_label.endswith("smaller is better")
    excluded = {i for i, r in enumerate(result.rows) if r["verdict"].startswith("excluded")}
    assert excluded, [r["verdict"] for r in result.rows]
    for m in _markers(chart):
        if set(m["rows"]) <= excluded:
            assert "nbopt-excluded" in m["cls"].split()
    legend = [i["text"] for i in chart["items"] if i["cls"] == "nbopt-legend"]
    assert "excluded" in legend
    # The candidate that makes integer I/O is named so, in the table and on the chart.
    table = bundle[COMPARISON_MIME]["table"]
    int8 = next(i for i, r in enumerate(result.rows) if r["candidate"] == "int8")
    assert table["labels"][int8] == "int8 (int8 I/O)"
    assert "int8 (int8 I/O)" in [i["text"] for i in chart["items"] if i["el"] == "text"]


def test_a_widget_shows_an_optimized_result_as_the_notebook_does(searched):
    from nbopt.widgets.results import optimized_output

    result, bundle = searched
    out = optimized_output(result)
    (shown,) = out.outputs
    assert shown["output_type"] == "display_data"
    assert shown["data"][COMPARISON_MIME] == bundle[COMPARISON_MIME]
    assert len(shown["data"][COMPARISON_MIME]["table"]["cells"]) == len(result.rows) == 17
    assert optimized_output(result, out) is out and len(out.outputs) == 1
