"""Chart labels are HTML placed under the stretched SVG: at most eight, every other one
hidden on a phone, each centred on its bars."""

from __future__ import annotations

from dialer.dashboard.charts import bar_chart, grouped_chart


def test_a_day_of_hours_gets_eight_labels_and_four_on_a_phone() -> None:
    chart = grouped_chart([(f"{h:02d}", (h, h // 2)) for h in range(24)], width=720)
    labels = [t.label for t in chart.ticks]
    assert labels == ["00", "03", "06", "09", "12", "15", "18", "21"]
    assert [t.label for t in chart.ticks if not t.minor] == ["00", "06", "12", "18"]
    # Centred on the hour's slot (30 units of 720 each), in percent of the width.
    assert chart.ticks[0].left == round(100 * 15 / 720, 2)
    assert chart.ticks[4].left == round(100 * (12 * 30 + 15) / 720, 2)
    # The SVG keeps no text: its bars reach down to (almost) the box's bottom.
    assert chart.baseline > chart.height - 5


def test_few_points_are_all_labelled() -> None:
    chart = bar_chart([("01-12", 3), ("02-12", 5), ("03-12", 0)], width=300)
    assert [(t.label, t.minor) for t in chart.ticks] == [
        ("01-12", False), ("02-12", True), ("03-12", False),
    ]  # fmt: skip
    assert chart.ticks[1].left == 50.0
