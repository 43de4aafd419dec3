"""prepare's fixed cost: the datatrove chain's config on one document, in this process (issue 12).

    .venv/bin/python bench/fixed_cost.py [--runs 3] [--corpus FILE.jsonl] [-- BEAM_OPTIONS]

Runs `textshards prepare` (pipeline.cli.main) with bench/peers_datatrove.py's filters on the first
document of --corpus (default: of bench/peers_datatrove.py's corpus), --runs times, and prints the
medians of: the whole command; the time before the runner starts (config, listing, building the
pipeline); the runner's run; the fused stages the FnApiRunner executes, their bundles and the sum
of their bundles' wall time; and the first bundle, which on the multi-process DirectRunner waits
for the worker processes to start. What is left of the run is the runner's own work between
bundles (fusing, encoding, stopping the workers).
The FnApiRunner's `run_pipeline` and `_execute_bundle` are wrapped to time them; nothing else is changed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from statistics import median

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bench.measure import default_corpora  # noqa: E402
from bench.peers_datatrove import OUR_FILTERS  # noqa: E402
from bench.scale import DEFAULT_WORKDIR, cached_corpus  # noqa: E402


class BundleClock:
    """Wall seconds of each bundle the FnApiRunner executes, by fused stage, and its run's span."""

    def __init__(self):
        from apache_beam.runners.portability.fn_api_runner import fn_runner

        self.seconds: Counter[str] = Counter()
        self.bundles: Counter[str] = Counter()
        self.first = 0.0
        self.run_span = (0.0, 0.0)
        execute_bundle, run_pipeline = fn_runner.FnApiRunner._execute_bundle, fn_runner.FnApiRunner.run_pipeline
        clock = self

        def timed_bundle(runner, context, bundle, inputs):
            started = time.perf_counter()
            try:
                return execute_bundle(runner, context, bundle, inputs)
            finally:
                seconds = time.perf_counter() - started
                clock.first = clock.first or seconds
                clock.seconds[bundle.stage.name] += seconds
                clock.bundles[bundle.stage.name] += 1

        def timed_run(runner, pipeline, options):
            started = time.perf_counter()
            try:
                return run_pipeline(runner, pipeline, options)
            finally:
                clock.run_span = (started, time.perf_counter())

        fn_runner.FnApiRunner._execute_bundle = timed_bundle
        fn_runner.FnApiRunner.run_pipeline = timed_run

    def reset(self) -> None:
        self.seconds.clear()
        self.bundles.clear()
        self.first = 0.0


def one_run(clock: BundleClock, config: Path, output: Path, beam_args: list[str]) -> dict:
    from pipeline.cli import main

    clock.reset()
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # the command's funnel table
        status = main(["prepare", "--config", str(config), "--output", str(output), "--", *beam_args])
    if status:
        raise SystemExit("prepare failed")
    ended = time.perf_counter()
    run_start, run_end = clock.run_span
    return {
        "command s": ended - started,
        "before the run s": run_start - started,
        "run s": run_end - run_start,
        "fused stages": len(clock.seconds),
        "bundles": sum(clock.bundles.values()),
        "bundles s": sum(clock.seconds.values()),
        "first bundle s": clock.first,
    }


def main() -> None:
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    own, beam_args = argv[:split], argv[split + 1 :]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--corpus", type=Path, help="JSON lines (default: the first part of the chain's corpus)")
    args = parser.parse_args(own)
    if args.corpus is None:  # bench/peers_datatrove.py's 50 MB, generated once and cached
        corpus, _ = cached_corpus(DEFAULT_WORKDIR, 0.05, 0, default_corpora().resolve())
        args.corpus = sorted(corpus.glob("part-*.jsonl"))[0]
    clock = BundleClock()
    with tempfile.TemporaryDirectory() as scratch:
        document = Path(scratch) / "one.jsonl"
        with open(args.corpus, encoding="utf-8") as corpus:
            size = document.write_text(corpus.readline(), encoding="utf-8")
        config = Path(scratch) / "config.json"
        inputs = [{"name": "peers", "glob": str(document), "kind": "jsonl"}]
        config.write_text(json.dumps({"inputs": inputs, "filters": {"web": OUR_FILTERS, "books": OUR_FILTERS}}))
        runs = [one_run(clock, config, Path(scratch) / f"out-{i}", beam_args) for i in range(args.runs)]
    options = " ".join(beam_args) or "default options"
    print(f"prepare on one document ({size} characters), {options}: medians of {args.runs}")
    for name in runs[0]:
        every = ", ".join(f"{run[name]:.4g}" for run in runs)
        print(f"{name:>18}: {median(run[name] for run in runs):6.4g}   (every run: {every})")


if __name__ == "__main__":
    main()
