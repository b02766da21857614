"""Live training curves (QtCharts): the losses per step and the validation metrics per epoch, both against
the run's position in epochs over all its stages, fed with ``TrainingRun.event`` dicts (training_run.py)."""
from __future__ import annotations

import math

from PySide6.QtCharts import QChart, QChartView, QLegend, QLegendMarker, QLineSeries, QLogValueAxis, QValueAxis
from PySide6.QtCore import QMargins, QPointF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QHBoxLayout, QWidget

# distinct colours that stay readable on white (Tableau 10)
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
           "#bab0ac")
NOT_PLOTTED = {"lr", "epoch"}  # epoch-event metrics that are not validation figures
MAX_POINTS = 2000  # per series; past it, neighbouring points are averaged in pairs


class TrainingChart(QWidget):
    """Two charts side by side: "Training loss" (running mean over each epoch's steps, log scale; the total
    ``loss`` drawn thicker; one curve per stage, since each stage has its own objective, with a dashed line
    where a stage starts) and "Validation" (metrics per epoch, with points). Click a legend entry to hide or
    show its curves. ``clear()`` empties both for the next run."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loss_chart, self.loss_x, self.loss_y = _chart("Training loss", QLogValueAxis())
        self.metric_chart, self.metric_x, self.metric_y = _chart("Validation", QValueAxis())
        self.loss_y.setLabelFormat("%g")
        self.loss_y.setMinorTickCount(8)
        self.metric_y.setLabelFormat("%.1f")
        self.metric_y.setTickType(QValueAxis.TicksDynamic)
        self.metric_y.setTickAnchor(0.0)
        self.loss_series: dict[tuple[str, str], QLineSeries] = {}  # (stage, loss name) -> curve
        self.metric_series: dict[str, QLineSeries] = {}  # metric name -> curve (continues across stages)
        self._data: dict[int, list[QPointF]] = {}  # id(series) -> its points (kept for decimation)
        self._colours: dict[str, QColor] = {}
        self._stages: list[tuple[str, float]] = []  # (stage, position where it starts)
        self._boundaries: list[QLineSeries] = []
        self.total_epochs = 1.0
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        for chart in (self.loss_chart, self.metric_chart):
            view = QChartView(chart)
            view.setRenderHint(QPainter.Antialiasing)
            view.setMinimumSize(280, 200)
            layout.addWidget(view, 1)
        self.clear()

    # --- data ----------------------------------------------------------------------------------------
    def add_event(self, event: dict) -> None:
        """A ``TrainingRun.event``: step losses and epoch metrics are plotted at the event's position."""
        if event.get("total_epochs"):
            self.set_total(float(event["total_epochs"]))
        kind = event.get("kind")
        if kind == "step" and event.get("losses"):
            x = _position(event)
            stage = str(event.get("stage", ""))
            if stage not in (name for name, _ in self._stages):
                steps = event.get("steps") or 1
                self._add_stage(stage, x - (event.get("epoch", 1) - 1 + event.get("step", 0) / steps))
            self.add_losses(x, event["losses"], stage)
        elif kind == "epoch" and event.get("metrics") and event.get("epoch"):
            self.add_metrics(_position(event), event["metrics"])

    def add_losses(self, x: float, losses: dict[str, float | None], stage: str = "") -> None:
        for key, value in losses.items():
            if value is None or not math.isfinite(value) or value <= 0:  # a log axis shows positive values only
                continue
            self._append(self.loss_chart, self.loss_series, (stage, key), key, x, float(value),
                         width=2.6 if key == "loss" else 1.5)
        self._rescale()

    def add_metrics(self, x: float, metrics: dict[str, float | None]) -> None:
        for key, value in metrics.items():
            if key in NOT_PLOTTED or value is None or not math.isfinite(value):
                continue
            name = key.removeprefix("val_")
            series = self._append(self.metric_chart, self.metric_series, name, name, x, float(value), width=2.0)
            series.setPointsVisible(True)
        self._rescale()

    def set_total(self, epochs: float) -> None:
        """The x range: the run's planned length in epochs (grows if the run goes further)."""
        if epochs > 0 and epochs != self.total_epochs:
            self.total_epochs = epochs
            self._rescale()

    def clear(self) -> None:
        for chart, series in ((self.loss_chart, self.loss_series), (self.metric_chart, self.metric_series)):
            for s in series.values():
                chart.removeSeries(s)
                s.deleteLater()
            series.clear()
        for s in self._boundaries:
            s.chart().removeSeries(s)
            s.deleteLater()
        self._boundaries.clear()
        self._stages.clear()
        self._data.clear()
        self._colours.clear()
        self.total_epochs = 1.0
        self.loss_chart.setTitle("Training loss")
        self._rescale()

    def point_count(self) -> int:
        """Points plotted in both charts (tests, status)."""
        return sum(s.count() for s in (*self.loss_series.values(), *self.metric_series.values()))

    # --- drawing -------------------------------------------------------------------------------------
    def _colour(self, key: str) -> QColor:
        if key not in self._colours:
            self._colours[key] = QColor(PALETTE[len(self._colours) % len(PALETTE)])
        return self._colours[key]

    def _append(self, chart: QChart, series: dict, key: object, name: str, x: float, y: float,
                width: float) -> QLineSeries:
        s = series.get(key)
        if s is None:
            s = series[key] = QLineSeries()
            s.setName(name)
            pen = QPen(self._colour(name), width)
            pen.setCapStyle(Qt.RoundCap)
            s.setPen(pen)
            first = not any(other.name() == name for other in chart.series())
            chart.addSeries(s)
            for axis in chart.axes():
                s.attachAxis(axis)
            for marker in chart.legend().markers(s):
                marker.setVisible(first)  # one legend entry per name, whatever the stage
                marker.clicked.connect(lambda m=marker, c=chart: _toggle(c, m))
            self._data[id(s)] = []
        points = self._data[id(s)]
        points.append(QPointF(x, y))
        if len(points) > MAX_POINTS:
            points[:] = [QPointF((a.x() + b.x()) / 2, (a.y() + b.y()) / 2) for a, b in zip(points[0::2], points[1::2])]
            s.replace(points)
        else:
            s.append(x, y)
        return s

    def _add_stage(self, stage: str, start: float) -> None:
        """A new stage: a dashed line where it starts (from the second stage on) and its name in the title."""
        self._stages.append((stage, start))
        if len(self._stages) > 1:
            for chart in (self.loss_chart, self.metric_chart):
                line = QLineSeries()
                line.setPen(QPen(QColor("#9a9a9a"), 1.0, Qt.DashLine))
                chart.addSeries(line)
                for axis in chart.axes():
                    line.attachAxis(axis)
                for marker in chart.legend().markers(line):
                    marker.setVisible(False)
                line.setProperty("position", start)
                self._boundaries.append(line)
            names = " \u2192 ".join(name for name, _ in self._stages if name)
            self.loss_chart.setTitle(f"Training loss ({names})")

    def _rescale(self) -> None:
        right = max([self.total_epochs, *(p.x() for pts in self._data.values() for p in pts[-1:])])
        step = _nice_step(right)
        for axis in (self.loss_x, self.metric_x):
            axis.setRange(0.0, math.ceil(right / step - 1e-9) * step)
            axis.setTickInterval(step)
        losses = [p.y() for s in self.loss_series.values() for p in self._data[id(s)]]
        if losses:  # whole decades, so the log axis always has labels
            lo, hi = math.floor(math.log10(min(losses))), math.ceil(math.log10(max(losses)))
            self.loss_y.setRange(10.0 ** lo, 10.0 ** max(hi, lo + 1))
        else:
            self.loss_y.setRange(0.1, 10.0)
        metrics = [p.y() for s in self.metric_series.values() for p in self._data[id(s)]]
        top = math.ceil(max([1.0, *metrics]) * 10) / 10
        bottom = math.floor(min([0.0, *metrics]) * 10) / 10
        self.metric_y.setTickInterval(_nice_step(top - bottom, ticks=6))
        self.metric_y.setRange(bottom, top + 0.04 * (top - bottom))  # headroom: points at 1.0 stay whole
        for line in self._boundaries:
            axis = self.loss_y if line.chart() is self.loss_chart else self.metric_y
            x = float(line.property("position"))
            line.replace([QPointF(x, axis.min()), QPointF(x, axis.max())])


def _chart(title: str, y_axis) -> tuple[QChart, QValueAxis, QValueAxis | QLogValueAxis]:
    chart = QChart()
    chart.setTheme(QChart.ChartThemeLight)
    chart.setBackgroundRoundness(0)
    chart.setMargins(QMargins(4, 4, 4, 4))
    chart.setTitle(title)
    font = QFont(chart.titleFont())
    font.setBold(True)
    font.setPointSizeF(max(font.pointSizeF(), 9.0))
    chart.setTitleFont(font)
    chart.legend().setAlignment(Qt.AlignBottom)
    chart.legend().setMarkerShape(QLegend.MarkerShapeFromSeries)
    small = QFont(chart.legend().font())
    small.setPointSizeF(max(small.pointSizeF() - 1, 7.0))
    chart.legend().setFont(small)
    x_axis = QValueAxis()
    x_axis.setTitleText("epoch")
    x_axis.setLabelFormat("%g")
    x_axis.setTickType(QValueAxis.TicksDynamic)
    x_axis.setTickAnchor(0.0)
    for axis, side in ((x_axis, Qt.AlignBottom), (y_axis, Qt.AlignLeft)):
        axis.setLabelsFont(small)
        title_font = QFont(small)
        axis.setTitleFont(title_font)
        axis.setGridLineColor(QColor("#e6e6e6"))
        chart.addAxis(axis, side)
    if isinstance(y_axis, QLogValueAxis):
        y_axis.setMinorGridLineColor(QColor("#f3f3f3"))
    return chart, x_axis, y_axis


def _position(event: dict) -> float:
    """Where the event lies in epochs: the run's ``position`` when the TrainingRun added it, else the epoch."""
    if "position" in event:
        return float(event["position"])
    steps = event.get("steps") or 0
    within = event.get("step", 0) / steps if event.get("kind") == "step" and steps else 1.0
    return event.get("epoch", 1) - 1 + within


def _nice_step(span: float, ticks: int = 8) -> float:
    """A tick interval giving at most ``ticks`` intervals: 1, 2 or 5 times a power of ten (0.2, 0.5, 1, 2, ...)."""
    power = 10.0 ** math.floor(math.log10(max(span, 1e-9) / ticks))
    return next(m * power for m in (1.0, 2.0, 5.0, 10.0) if span / (m * power) <= ticks)


def _toggle(chart: QChart, marker: QLegendMarker) -> None:
    """Hide or show the curves named like the clicked legend entry (every stage's); the entry is greyed."""
    name = marker.series().name()
    visible = not marker.series().isVisible()
    named = [series for series in chart.series() if series.name() == name]
    for series in named:
        series.setVisible(visible)
    for series in named:  # Qt shows or hides the markers with their series: one entry per name again
        for m in chart.legend().markers(series):
            m.setVisible(series is named[0])
    colour = QColor(marker.labelBrush().color())
    colour.setAlphaF(1.0 if visible else 0.35)
    marker.setLabelBrush(colour)
