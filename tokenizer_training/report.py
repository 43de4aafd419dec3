"""tokenizer_report.json: what was trained, on what, and how well it does on held-out text;
the same as printed text and as a picture (tokenizer_report.png)."""

from __future__ import annotations

import io
import json
from typing import Callable, Iterable

import matplotlib

matplotlib.use("Agg")  # files only: no display on workers or CI
import matplotlib.pyplot as plt
from tokenizers import Tokenizer

from tokenizer_training.bpe import TokenizerConfig
from tokenizer_training.evaluate import longest_tokens, measure


def build_report(
    config: TokenizerConfig,
    tokenizer: Tokenizer,
    sample_stats: dict,
    heldout: Callable[[], Iterable[tuple[str, str]]],
    reference: Tokenizer | None = None,
) -> dict:
    """The report as a dict; the same inputs always give the same dict.

    sample_stats: sample_stats.json (documents and bytes in, sampled and held out, per source);
    heldout: a callable giving the held-out (source, text) documents, read once per tokenizer.
    """
    model = json.loads(tokenizer.to_str())["model"]
    weights = {item.source: item.weight for item in config.source_weights}
    sources = {
        source: {"weight": weights.get(source, 1.0), **counts} for source, counts in sample_stats["sources"].items()
    }
    tokenizers = {"ours": tokenizer, **({"reference": reference} if reference is not None else {})}
    return {
        "tokenizer": {
            "vocab_size": tokenizer.get_vocab_size(),
            "vocab_size_asked": config.vocab_size,
            "merges": len(model["merges"]),
            "min_frequency": config.min_frequency,
            "max_token_length": config.max_token_length,
            "special_tokens": {token: tokenizer.token_to_id(token) for token in config.special_tokens},
            "end_of_text": {"token": config.special_tokens[0], "id": tokenizer.token_to_id(config.special_tokens[0])},
        },
        "sample": {
            "sample_bytes_limit": config.sample_bytes,
            "weights_of_absent_sources": {s: w for s, w in sorted(weights.items()) if s not in sources},
            "sources": sources,
            "totals": sample_stats["totals"],
        },
        "reference": config.reference or None,
        "heldout": {name: measure(each, heldout()) for name, each in tokenizers.items()},
        "longest_tokens": {name: longest_tokens(each) for name, each in tokenizers.items()},
    }


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f}"


def format_report(report: dict) -> str:
    """The report as a few short tables, for the terminal."""
    tok, sample = report["tokenizer"], report["sample"]
    lines = [
        f"vocabulary: {tok['vocab_size']} tokens (asked {tok['vocab_size_asked']}), {tok['merges']} merges; "
        f"end of text {tok['end_of_text']['token']!r} = id {tok['end_of_text']['id']}",
        f"sample: {_mb(sample['totals'].get('sample', {}).get('bytes', 0))} MB of at most "
        f"{_mb(sample['sample_bytes_limit'])} MB",
        f"{'source':<16}{'weight':>7}{'docs':>8}{'MB':>9}{'sample':>8}{'MB':>9}{'held out':>9}{'MB':>9}",
    ]
    for source, counts in sorted(sample["sources"].items()) + [("TOTAL", {"weight": "", **sample["totals"]})]:
        taken, held = counts.get("sample", {}), counts.get("heldout", {})
        lines.append(
            f"{source:<16}{counts['weight']:>7}{counts.get('documents_in', 0):>8}{_mb(counts.get('bytes_in', 0)):>9}"
            f"{taken.get('documents', 0):>8}{_mb(taken.get('bytes', 0)):>9}"
            f"{held.get('documents', 0):>9}{_mb(held.get('bytes', 0)):>9}"
        )
    if sample["weights_of_absent_sources"]:
        lines.append(f"weights given for sources not in the docs: {sample['weights_of_absent_sources']}")
    ours, reference = report["heldout"]["ours"], report["heldout"].get("reference")
    if not ours["sources"]:
        lines.append("held-out: no documents (heldout_fraction is 0 or the corpus is too small)")
        return "\n".join(lines)
    both = reference is not None
    lines.append(
        "held-out documents (never trained on): ours" + (f" | reference {report['reference']}" if both else "")
    )
    lines.append(
        f"{'source':<16}{'docs':>6}{'MB':>8}{'bytes/token':>{13 + 9 * both}}"
        f"{'tokens/word':>{13 + 9 * both}}{'round trip':>{12 + 9 * both}}"
    )
    for source in list(ours["sources"]) + ["TOTAL"]:
        figures = ours["total"] if source == "TOTAL" else ours["sources"][source]
        other = (reference["total"] if source == "TOTAL" else reference["sources"][source]) if both else None
        cells = [f"{source:<16}{figures['documents']:>6}{_mb(figures['bytes']):>8}"]
        for key, width in (("bytes_per_token", 13), ("tokens_per_word", 13)):
            cells.append(f"{figures[key] or 0:>{width}.3f}" + (f" | {other[key] or 0:>6.3f}" if both else ""))
        exact = lambda f: "exact" if f["round_trip_failures"] == 0 else f"{f['round_trip_failures']} differ"  # noqa: E731
        cells.append(f"{exact(figures):>12}" + (f" | {exact(other):>6}" if both else ""))
        lines.append("".join(cells))
    lines.append(
        f"vocabulary used by the held-out text: {ours['vocabulary_used_share']:.1%}"
        + (f" | {reference['vocabulary_used_share']:.1%}" if both else "")
    )
    for name, tokens in report["longest_tokens"].items():
        lines.append(f"longest tokens ({name}): " + ", ".join(f"{t['text']!r} ({t['bytes']} B)" for t in tokens[:8]))
    return "\n".join(lines)


def _source_label(figures: dict, source: str) -> str:
    counts = figures["total"] if source == "all" else figures["sources"][source]
    documents = counts["documents"]
    return f"{source}\n{documents} doc{'s' * (documents != 1)}, {_mb(counts['bytes'])} MB"


def report_png(report: dict) -> bytes:
    """Bytes per token and tokens per word per source, ours beside the reference; deterministic."""
    heldout = report["heldout"]
    names = list(heldout)
    sources = list(heldout["ours"]["sources"]) + ["all"]
    figure, panels = plt.subplots(1, 2, figsize=(12, 1.8 + 0.5 * len(sources) * len(names)), constrained_layout=True)
    height = 0.8 / len(names)
    for panel, key, title in (
        (panels[0], "bytes_per_token", "Bytes per token (higher: more text per token)"),
        (panels[1], "tokens_per_word", "Tokens per word (lower is better)"),
    ):
        for i, name in enumerate(names):
            figures = [heldout[name]["total"] if s == "all" else heldout[name]["sources"].get(s, {}) for s in sources]
            values = [f.get(key) or 0 for f in figures]
            positions = [p - (len(names) - 1 - 2 * i) * height / 2 for p in range(len(sources))]  # ours on top
            bars = panel.barh(
                positions, values, height, label=name if name == "ours" else f"reference ({report['reference']})"
            )
            panel.bar_label(bars, fmt="%.2f", fontsize="small", padding=2)
        panel.set_yticks(range(len(sources)), [_source_label(heldout["ours"], s) for s in sources])
        panel.invert_yaxis()
        panel.set_title(title)
        panel.margins(x=0.15)
        if not heldout["ours"]["sources"]:
            panel.text(0.5, 0.5, "no held-out documents", transform=panel.transAxes, ha="center")
    panels[0].legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)
    figure.suptitle(f"Held-out text, vocabulary of {report['tokenizer']['vocab_size']} tokens")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()
