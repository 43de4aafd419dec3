"""Looking inside a finished run: the funnel it printed, and the documents the filters dropped.

`format_funnel(report)` is the table `textshards prepare` prints at the end: documents and MB
after each step (transforms/stats.FUNNEL, the steps the run had) per source, then every loss by reason.
`format_rejected(output, ...)` is `textshards inspect rejected`: the dropped documents that
`filters.write_rejected` kept in OUTPUT/rejected/, with their reason.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from pathlib import Path

from transforms.stats import funnel_steps

WIDTH = 100


def format_funnel(report: dict) -> str:
    """Documents and bytes through each step, per source: the funnel users look at first."""
    steps = funnel_steps(report["totals"])
    titles = [step if step == "read" else f"after {step}" for step, _, _ in steps]
    # A step's docs column widens for a title longer than the usual 16 characters of docs and MB.
    docs_widths = [max(8, len(title) - 6) for title in titles]
    lines = [
        f"{'':<16}{'':>6}" + "".join(f"{title:>{width + 8}}" for title, width in zip(titles, docs_widths)),
        f"{'source':<16}{'files':>6}" + "".join(f"{'docs':>{width}}{'MB':>8}" for width in docs_widths),
    ]
    rows = sorted(report["sources"].items()) + [("TOTAL", report["totals"])]
    for source, counts in rows:
        lines.append(
            f"{source:<16}{counts.get('files', 0):>6}"
            + "".join(
                f"{counts.get(documents, 0):>{width}}{counts.get(nbytes, 0) / 1e6:>8.2f}"
                for (_, documents, nbytes), width in zip(steps, docs_widths)
            )
        )
    for title, groups in (
        ("dropped / dead letters, by reason", ("dropped", "dead_letter")),
        ("changed inside kept documents", ("pii", "lines_removed", "changed")),
    ):
        described = [(source, _describe(counts, groups)) for source, counts in rows]
        if any(text for _, text in described):
            lines.append(f"{title}:")
            lines += [
                textwrap.fill(text, WIDTH, initial_indent=f"  {source:<14}", subsequent_indent=" " * 16)
                for source, text in described
                if text
            ]
    return "\n".join(lines)


def format_decontamination(report: dict) -> str:
    """Per benchmark, its items (short and unreadable among them), the files that broke off while
    read, the items found, the documents hit and the words removed (decontamination.json's numbers)."""
    lines = [
        f"{'benchmark':<16}{'items':>9}{'short':>9}{'unreadable':>11}{'bad files':>10}"
        f"{'found':>9}{'docs hit':>10}{'words removed':>15}"
    ]
    for name, counts in sorted(report.items()):
        lines.append(
            f"{name:<16}{counts['items']:>9}{counts['items_short']:>9}{counts['items_unreadable']:>11}"
            f"{counts['files_unreadable']:>10}{counts['items_found']:>9}{counts['documents_hit']:>10}"
            f"{counts['words_removed']:>15}"
        )
    return "\n".join(lines)


def _describe(counts: dict, groups: tuple[str, ...]) -> str:
    """'a.b=3, c=1' for the named groups of a source's counts, largest first."""
    found = Counter()
    for group in groups:
        for name, n in counts.get(group, {}).items():
            found[name if group in ("dropped", "dead_letter") else f"{group}.{name}"] += n
    return ", ".join(f"{name}={n}" for name, n in sorted(found.items(), key=lambda item: (-item[1], item[0])))


def format_rejected(output: str, reason: str | None = None, limit: int = 10, chars: int = 600) -> str:
    """The rejected documents of a prepare OUTPUT whose reason is `reason` or starts with `reason.`;
    without a reason, how many were rejected for each."""
    import pyarrow.parquet as pq

    directory = Path(output) / "rejected"
    shards = sorted(directory.glob("part-*.parquet"))
    if not shards:
        return (
            f"no rejected documents under {directory}: run 'textshards prepare' with "
            "--write-rejected (or filters.write_rejected: true)"
        )
    columns = ["id", "source", "url", "language", "language_score", "reason", "text"]
    rows = [row for shard in shards for row in pq.read_table(shard, columns=columns).to_pylist()]
    if reason is None:
        by_reason = Counter(row["reason"] for row in rows)
        return "\n".join(
            [f"{len(rows)} rejected documents; show them with --reason REASON:"]
            + [f"{n:>8}  {name}" for name, n in sorted(by_reason.items(), key=lambda i: (-i[1], i[0]))]
        )
    matching = [row for row in rows if row["reason"] == reason or row["reason"].startswith(reason + ".")]
    lines = [
        f"{len(matching)} rejected documents with reason {reason}"
        + (f" (showing {limit})" if len(matching) > limit else "")
    ]
    for row in matching[:limit]:
        language = f"{row['language']} {row['language_score']:.2f}" if row["language"] else "-"
        text = row["text"] if len(row["text"]) <= chars else row["text"][:chars] + f" [... {len(row['text'])} chars]"
        lines += [
            "",
            f"== {row['id']}",
            f"   reason: {row['reason']}   language: {language}   url: {row['url'] or '-'}",
            textwrap.indent(text, "   | ", lambda _: True),
        ]
    return "\n".join(lines)
