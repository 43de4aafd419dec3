"""The per-document CPU cost of `textshards prepare` on bench/peers_datatrove.py's chain, in one process.

Run from the repository root:

    .venv/bin/python bench/per_document.py [--runs 3] [--profile 25] [--mb 50] [--workdir DIR]

Every document of peers_datatrove.py's corpus (the same cached files of bench/scale.py's generator)
goes through what a prepare worker does to it with that chain's config (filters.web = [gopher_quality,
c4]), each step timed in CPU seconds of this process (time.process_time): reading the JSON lines,
cleaning (ftfy fast path, normalisation), each filter step (its `keep`, and its `keep_after_edit`
when a later step edited the text), and the dedup fingerprint of each kept document (folded words,
MinHash signature, exact key). Beam, start-up, dedup's grouping and writing are not in it: this is
the work that grows with the corpus. The figures are the medians of --runs passes over the corpus;
--profile N adds cProfile's N costliest functions of one more pass (cumulative and own seconds,
inflated by the profiler's overhead).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from collections import defaultdict
from pathlib import Path
from statistics import median

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # bench.measure, tests.conftest, the packages: from any directory

from bench.measure import default_corpora  # noqa: E402
from bench.peers_datatrove import OUR_FILTERS  # noqa: E402
from bench.scale import DEFAULT_WORKDIR, cached_corpus  # noqa: E402
from pipeline.config import Config  # noqa: E402
from transforms.clean import Dropped, clean_document  # noqa: E402
from transforms.dedup.deduplicate import _TextMeasures  # noqa: E402
from transforms.dedup.minhash import MinHasher  # noqa: E402
from transforms.dedup.normalize import exact_key  # noqa: E402
from transforms.filters.base import Filter, Verdict  # noqa: E402
from transforms.filters.stage import FiltersConfig, Steps, filter_document  # noqa: E402
from transforms.readers import FileRange, InputSpec, read_range  # noqa: E402
from transforms.records import RawDocument  # noqa: E402


class TimedStep(Filter):
    """A filter step whose calls add their CPU seconds to `seconds[its name]`."""

    def __init__(self, step: Filter, seconds: dict[str, float]):
        self.name = step.name  # type: ignore[misc]
        self._step = step
        self._seconds = seconds

    def keep(self, text: str) -> Verdict:
        started = time.process_time()
        verdict = self._step.keep(text)
        self._seconds[self.name] += time.process_time() - started
        return verdict

    def keep_after_edit(self, text: str) -> Verdict:
        started = time.process_time()
        verdict = self._step.keep_after_edit(text)
        self._seconds[f"{self.name} (after edit)"] += time.process_time() - started
        return verdict


def one_pass(config: Config, files: list[str]) -> tuple[dict[str, float], int]:
    """CPU seconds per part of the per-document work over `files`, and the documents kept."""
    seconds: dict[str, float] = defaultdict(float)
    built = Steps(config.filters)
    built.build_all()
    timed_steps: dict[int, TimedStep] = {}
    measures = _TextMeasures(config.dedup, MinHasher(config.dedup.num_perm, config.dedup.seed))
    spec = config.inputs[0]
    kept = 0
    clock = time.process_time
    for path in files:
        documents = read_range(spec, FileRange(path), config.read)
        while True:
            started = clock()
            doc = next(documents, None)
            seconds["read"] += clock() - started
            if doc is None:
                break
            assert isinstance(doc, RawDocument), doc
            started = clock()
            cleaned = clean_document(doc, config.clean)
            seconds["clean"] += clock() - started
            if isinstance(cleaned, Dropped):
                continue
            steps = [timed_steps.setdefault(id(s), TimedStep(s, seconds)) for s in built.for_row(cleaned)]
            result = filter_document(cleaned, steps)
            if result.row is None:
                continue
            kept += 1
            started = clock()
            words = measures.words(result.row["text"])
            seconds["dedup words"] += clock() - started
            started = clock()
            measures.signature(words)
            exact_key(words)
            seconds["dedup signature, exact key"] += clock() - started
    return seconds, kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="cProfile's N costliest functions")
    parser.add_argument("--mb", type=float, default=50, help="MB of input (default 50)")
    parser.add_argument("--corpora", type=Path, default=default_corpora())
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="the cached corpus (%(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    corpus, info = cached_corpus(args.workdir.resolve(), args.mb / 1000, args.seed, args.corpora.resolve())
    config = Config(
        inputs=[InputSpec(name="peers", glob=f"{corpus}/*.jsonl", kind="jsonl")],
        filters=FiltersConfig(web=OUR_FILTERS, books=OUR_FILTERS),
    )
    files = [str(corpus / name) for name in sorted(info["files"])]

    passes = [one_pass(config, files) for _ in range(args.runs)]
    kept = {documents for _, documents in passes}
    assert len(kept) == 1, kept
    parts = list(passes[0][0])
    total = [sum(seconds.values()) for seconds, _ in passes]
    print(
        f"{info['bytes'] / 1e6:.1f} MB, {info['documents']} documents, {kept.pop()} kept; "
        f"CPU seconds of one process, median of {args.runs}\n"
    )
    print("| part | CPU s | every pass |")
    print("|---|---:|---|")
    for part in parts:
        every = [seconds[part] for seconds, _ in passes]
        print(f"| {part} | {median(every):.2f} | {' '.join(f'{s:.2f}' for s in every)} |")
    print(f"| all | {median(total):.2f} | {' '.join(f'{s:.2f}' for s in total)} |")

    if args.profile:
        profile = cProfile.Profile()
        profile.runcall(one_pass, config, files)
        print()
        pstats.Stats(profile).sort_stats("tottime").print_stats(args.profile)


if __name__ == "__main__":
    main()
