"""The digest's small PNG chart: incidents per week (bars) and median MTTA/MTTR per week (lines).

matplotlib is imported here only, lazily, with the Agg backend: no function but the digest pays for it.
"""

from __future__ import annotations

import io

from shared.domain.metrics import Week


def weekly_chart(weeks: list[Week], title: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    labels = [w.start.strftime("%d %b") for w in weeks]
    figure = Figure(figsize=(6.4, 3.2), dpi=100)
    bars = figure.add_subplot(1, 1, 1)
    bars.bar(labels, [w.incidents for w in weeks], color="#9db4d3", label="incidents")
    bars.set_ylabel("incidents")
    bars.set_title(title, fontsize=10)
    bars.tick_params(axis="x", labelsize=7)
    lines = bars.twinx()
    lines.plot(labels, [_minutes(w.mtta_median_seconds) for w in weeks], marker="o", color="#d9822b",
               label="MTTA (median, min)")
    lines.plot(labels, [_minutes(w.mttr_median_seconds) for w in weeks], marker="s", color="#2b8a3e",
               label="MTTR (median, min)")
    lines.set_ylabel("minutes")
    handles = bars.get_legend_handles_labels()[0] + lines.get_legend_handles_labels()[0]
    names = bars.get_legend_handles_labels()[1] + lines.get_legend_handles_labels()[1]
    bars.legend(handles, names, loc="upper left", fontsize=7)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()


def _minutes(seconds: float | None) -> float:
    return float("nan") if seconds is None else seconds / 60
