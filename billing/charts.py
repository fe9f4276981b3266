"""Charts drawn on the server as SVG by pygal, placed in the page: no script, and the chart's own style carries the
page's CSP nonce. Every chart is shown beside a table of its numbers, so nothing depends on it."""

import re

import pygal
from django.utils.safestring import mark_safe
from pygal.style import Style

STYLE = Style(
    background="transparent",
    plot_background="transparent",
    font_family="system-ui, sans-serif",
    colors=("#06c755", "#adb5bd", "#dc3545", "#0d6efd"),
    label_font_size=11,
    major_label_font_size=11,
    legend_font_size=12,
    value_font_size=10,
)


def bar_chart(
    *,
    title: str,
    labels: list[str],
    series: list[tuple[str, list[int]]],
    stacked: bool = False,
    width: int = 640,
    **options,
):
    chart = (pygal.StackedBar if stacked else pygal.Bar)(
        style=STYLE,
        js=[],
        disable_xml_declaration=True,
        width=width,
        height=260,
        legend_at_bottom=True,
        show_y_guides=True,
        print_values=False,
        x_label_rotation=0,
        truncate_label=-1,
        **options,
    )
    chart.title = title
    chart.x_labels = labels
    for name, values in series:
        chart.add(name, values)
    return chart


def xy_chart(*, title: str, series: list[tuple[str, list[tuple[int, int]]]]):
    chart = pygal.XY(
        style=STYLE,
        js=[],
        disable_xml_declaration=True,
        width=640,
        height=300,
        legend_at_bottom=True,
        show_dots=False,
        stroke=True,
        x_label_rotation=20,
    )
    chart.title = title
    for name, points in series:
        chart.add(name, points)
    return chart


def inline_svg(chart, *, nonce: str) -> str:
    """The chart as an <svg> element for the page: pygal's configuration script removed (we load no pygal JS),
    its <style> given the request's CSP nonce."""
    svg = chart.render(is_unicode=True)
    svg = re.sub(r"<script\b.*?</script>", "", svg, flags=re.S)
    svg = svg.replace("<style", f'<style nonce="{nonce}"', 1)
    svg = svg.replace(' style="opacity: 0"', ' opacity="0"')  # the tooltip's: an attribute CSP allows
    svg = svg.replace("<svg ", '<svg role="img" focusable="false" ', 1)
    return mark_safe(svg)  # noqa: S308 - pygal escapes the labels and values it draws
