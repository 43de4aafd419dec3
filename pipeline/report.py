"""The picture of a run: where the documents and bytes of each source went.

`funnel_png(report)` draws stats.json as two panels: documents per source, split into
kept and every reason for loss (filter drops summed per step: "dropped: gopher_quality"); and
megabytes per source after each step of the funnel (read, clean, filter, ...).
"""

from __future__ import annotations

import io

from transforms.stats import funnel_steps

# Green means kept; losses take every other colour of the tab10 palette.
LOSS_COLOURS = [
    "tab:red",
    "tab:orange",
    "tab:purple",
    "tab:brown",
    "tab:pink",
    "tab:gray",
    "tab:olive",
    "tab:cyan",
    "tab:blue",
]


def _losses(counts: dict) -> dict[str, int]:
    """Lost documents by reason; a filter's reasons ("<step>.<rule>") are summed per step."""
    losses: dict[str, int] = {}
    for reason, n in counts.get("dropped", {}).items():
        key = f"dropped: {reason.partition('.')[0]}"
        losses[key] = losses.get(key, 0) + n
    losses.update({f"dead letter: {k}": v for k, v in counts.get("dead_letter", {}).items()})
    return losses


def funnel_png(report: dict) -> bytes:
    """A PNG of the stats.json `report`; deterministic for the same report."""
    # Imported here, not at the top: prepare's Beam workers import this module with pipeline.prepare
    # and never draw, and matplotlib costs each of them about 0.4 s of start-up.
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on workers or CI
    import matplotlib.pyplot as plt

    sources = sorted(report["sources"])
    reasons = sorted({reason for s in sources for reason in _losses(report["sources"][s])})
    figure, (documents, megabytes) = plt.subplots(
        1, 2, figsize=(12, 2.5 + 0.6 * max(len(sources), 2) + 0.2 * len(reasons)), constrained_layout=True
    )

    kept = [report["sources"][s].get("documents_out", 0) for s in sources]
    documents.barh(sources, kept, label="kept", color="tab:green")
    left = kept
    for i, reason in enumerate(reasons):
        values = [_losses(report["sources"][s]).get(reason, 0) for s in sources]
        documents.barh(sources, values, left=left, label=reason, color=LOSS_COLOURS[i % len(LOSS_COLOURS)])
        left = [a + b for a, b in zip(left, values)]
    documents.set_xlabel("documents")
    documents.set_title("Documents per source: kept and lost, by reason")
    documents.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)

    steps = funnel_steps(report["totals"])
    height = 0.8 / len(steps)
    positions = range(len(sources))
    for i, (step, _, nbytes) in enumerate(steps):  # first step on top
        offset = (len(steps) - 1) / 2 - i
        megabytes.barh(
            [p + offset * height for p in positions],
            [report["sources"][s].get(nbytes, 0) / 1e6 for s in sources],
            height,
            label=step if step == "read" else f"after {step}",
        )
    megabytes.set_yticks(list(positions), sources)
    megabytes.set_xlabel("MB")
    megabytes.set_title("Bytes per source after each step")
    megabytes.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()
