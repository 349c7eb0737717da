"""`doorajar stats --plot`: one horizontal funnel per situation, drop-off per question.

Needs matplotlib (the `plot` extra, which `make` installs: `pip install -e '.[plot]'`).
"""

from __future__ import annotations

from pathlib import Path

from bot.stats import Summary


def plot(summary: Summary, path: Path) -> None:
    """Draw the summary's funnels into `path` (.svg or .png); ImportError without matplotlib."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no window, no display needed
    import matplotlib.pyplot as plt

    funnels = list(summary.funnels.values())
    rows = max(1, len(funnels))
    figure, axes = plt.subplots(
        rows, 2, figsize=(11, 2.6 * rows), squeeze=False, width_ratios=(3, 2)
    )
    for (steps_ax, stops_ax), funnel in zip(axes, funnels, strict=False):
        steps = [
            ("started", funnel.started),
            ("first draft", funnel.first_draft),
            *((f"refinement: {k}", v) for k, v in sorted(funnel.refinements.items())),
            ("another wording", funnel.another_wording),
            ("shared", funnel.shared),
            ("reminder set", funnel.reminder_set),
        ]
        labels = [label for label, _ in steps]
        values = [n for _, n in steps]
        bars = steps_ax.barh(labels, values, color="#3b7dd8")
        steps_ax.bar_label(bars, padding=3, fontsize=8)
        steps_ax.invert_yaxis()
        steps_ax.set_title(f"{funnel.situation}: funnel", fontsize=10, loc="left")
        steps_ax.tick_params(labelsize=8)
        stops = list(funnel.stopped.items()) or [("(no stops)", 0)]
        stop_bars = stops_ax.barh([q for q, _ in stops], [n for _, n in stops], color="#d8733b")
        stops_ax.bar_label(stop_bars, padding=3, fontsize=8)
        stops_ax.invert_yaxis()
        stops_ax.set_title("stopped at question", fontsize=10, loc="left")
        stops_ax.tick_params(labelsize=8)
    if not funnels:
        axes[0][0].set_title("nothing counted in these days")
    figure.suptitle(f"doorajar stats, {summary.days[0]} to {summary.days[-1]} (UTC)", fontsize=11)
    figure.tight_layout(rect=(0, 0, 1, 1 - 0.5 / (2.6 * rows)))
    figure.savefig(path)
    plt.close(figure)
