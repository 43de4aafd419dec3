"""`textshards train-tokenizer`: cleaned documents in, a byte-level BPE vocabulary out.

    DIR/docs/*.parquet --Beam: DrawSample--> sample/, heldout/ (a file per docs file), sample_stats.json   (staging)
    sample/ --stream, in file order--> tokenizers' Rust trainer (every core, this machine) --> tokenizer.json
    heldout/ --encode, decode--> tokenizer_report.json, tokenizer_report.png
    commit: TOKDIR/tokenizer.json, tokenizer_config.json, special_tokens_map.json, the report, _SUCCESS last

The sample and the held-out slice live in staging only; the same docs and config give them
again, and with them a byte-identical tokenizer.json.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Iterator

from apache_beam.io.filesystems import FileSystems
from tokenizers import Tokenizer

from pipeline import fingerprint
from pipeline.beam_runner import check_workers_can_reach, run_pipeline
from pipeline.config import Config, check_sources_prepared, command_problems
from tokenizer_training.bpe import check_training_memory, train_tokenizer
from tokenizer_training.memory import peak_rss_mb, reset_peak_rss, rss_mb
from tokenizer_training.report import build_report, report_png
from tokenizer_training.sample import SAMPLE_PASSES, DrawSample, docs_text_bytes
from transforms import outputs
from transforms.bpe import load_tokenizer, tokenizer_json
from transforms.progress import Progress, ProgressMonitor, progress_directory, total_of
from transforms.readers import streamed_parquet
from transforms.settings import ConfigError, raise_problems
from transforms.tokenizer_copies import tokenizer_files
from transforms.writers import write_file_atomically

READ_BATCH = 256  # documents per batch read from the sample and handed to the trainer


def check_arguments(config: Config) -> tuple[list[str], Tokenizer | None]:
    """Everything that can be checked before any work; raises ConfigError naming the value.
    Returns the docs files and the reference tokenizer, loaded, where one is named."""
    docs, output = config.tokenizer.docs, config.output
    raise_problems(command_problems(config, "train-tokenizer"))
    if output.rstrip("/") in (docs.rstrip("/"), outputs.prepare_output_of(docs)):
        raise ConfigError(
            f"output: {output!r} would overwrite prepare's outputs (its _SUCCESS): choose a directory of its own"
        )
    files = outputs.docs_files(docs, "tokenizer.docs")
    check_sources_prepared(docs, "tokenizer.source_weights", config.tokenizer.source_weights)
    check_training_memory(config.tokenizer, lambda limit: docs_text_bytes(files, limit))
    return files, load_reference(config)


def load_reference(config: Config) -> Tokenizer | None:
    """The reference tokenizer of the report, where the config names one; ConfigError if unreadable."""
    if not config.tokenizer.reference:
        return None
    try:
        return load_tokenizer(config.tokenizer.reference)
    except ValueError as err:
        raise ConfigError(f"tokenizer.reference: {err}") from None


def _shards(directory: str) -> list[str]:
    if not FileSystems.exists(directory):
        return []
    return sorted(m.path for m in FileSystems.match([outputs.join(directory, "*.parquet")])[0].metadata_list)


def read_documents(directory: str, columns: list[str]) -> Iterator[list[dict]]:
    """Batches of rows (dicts of `columns`) of every parquet file under `directory`, in the order
    of their names, each in its own order; one batch in memory at a time."""
    for path in _shards(directory):
        with FileSystems.open(path) as handle:
            for batch in streamed_parquet(handle).iter_batches(batch_size=READ_BATCH, columns=columns):
                yield batch.to_pylist()


def _progress(message: str) -> None:
    print(f"[textshards] {message}", file=sys.stderr, flush=True)


def read_texts_with_progress(directory: str, total_bytes: int, every: float) -> Iterator[str]:
    """The sample's texts, one at a time, with a progress line every `every` seconds (0: none)."""
    started = last = time.monotonic()
    done = 0
    for batch in read_documents(directory, ["text"]):
        for row in batch:
            yield row["text"]
            done += len(row["text"].encode("utf-8"))
        if every and time.monotonic() - last >= every:
            last = time.monotonic()
            _progress(
                f"counting words: {done / 1e6:.1f} of {total_bytes / 1e6:.1f} MB, "
                f"{done / 1e6 / (last - started):.2f} MB/s"
            )
    _progress(f"counted the words of {done / 1e6:.1f} MB in {time.monotonic() - started:.1f} s; computing merges")


def run_train_tokenizer(config: Config, beam_args: list[str]) -> dict:
    """Samples config.tokenizer.docs, trains, measures and commits under config.output; returns
    the report (tokenizer_report.json). The trainer shows progress bars where stderr is a terminal."""
    settings, docs, output = config.tokenizer, config.tokenizer.docs, config.output
    check_workers_can_reach(beam_args, {"tokenizer.docs": docs, "output": output})
    files, reference = check_arguments(config)
    config_sha256 = fingerprint.train_tokenizer(config)
    started = time.monotonic()
    with outputs.staged(output, config.runner.wait_for_lock) as run:
        staging = run.staging
        docs_total = total_of(outputs.docs_pattern(docs))
        with ProgressMonitor(
            "train-tokenizer (3 passes over the docs)",
            progress_directory(staging),
            Progress(SAMPLE_PASSES * docs_total.files, SAMPLE_PASSES * docs_total.bytes),
            config.runner.progress_seconds,
        ):
            run_pipeline(
                lambda p: p | "Sample for tokenizer" >> DrawSample(files, settings, staging),
                beam_args,
                config.runner,
            )
        with FileSystems.open(outputs.join(staging, "sample_stats.json")) as handle:
            sample_stats = json.load(handle)
        drawn = sample_stats["totals"].get("sample", {})
        sampled_at, sampled_rss, rss_before_training = time.monotonic(), peak_rss_mb(), rss_mb()
        reset_peak_rss()
        if not drawn.get("documents"):
            raise ConfigError(
                "tokenizer.source_weights: the sample is empty (no documents, or every "
                f"source weighs 0): {sample_stats['totals']}"
            )
        _progress(
            f"sample drawn in {sampled_at - started:.1f} s: {drawn['documents']} documents, "
            f"{drawn['bytes'] / 1e6:.1f} MB; training a vocabulary of {settings.vocab_size}"
        )

        texts = read_texts_with_progress(
            outputs.join(staging, "sample"), drawn["bytes"], config.runner.progress_seconds
        )
        tokenizer = train_tokenizer(texts, settings, sys.stderr.isatty())
        trained_at, trained_rss = time.monotonic(), peak_rss_mb()
        reset_peak_rss()
        _progress(
            f"trained in {trained_at - sampled_at:.1f} s: {tokenizer.get_vocab_size()} tokens; "
            f"peak memory {trained_rss:.0f} MB; measuring on the held-out documents"
        )

        files = tokenizer_files(tokenizer_json(tokenizer), settings.special_tokens[0])

        def heldout():
            for batch in read_documents(outputs.join(staging, "heldout"), ["source", "text"]):
                yield from ((row["source"], row["text"]) for row in batch)

        report = build_report(settings, tokenizer, sample_stats, heldout, reference)
        report_json = json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False)
        files["tokenizer_report.json"] = report_json.encode() + b"\n"
        files["tokenizer_report.png"] = report_png(report)
        for name, data in files.items():
            write_file_atomically(outputs.join(staging, name), data)
        finished = time.monotonic()
        # Timings and memory vary from run to run: they go to _SUCCESS, so the outputs stay identical.
        run.commit(
            directories=[],
            files=list(files),
            success_info={
                "stage": "train-tokenizer",
                fingerprint.FIELD: config_sha256,
                "seconds": {
                    "sample": round(sampled_at - started, 2),
                    "train": round(trained_at - sampled_at, 2),
                    "report": round(finished - trained_at, 2),
                },
                "sample_bytes": drawn["bytes"],
                "peak_rss_mb": {
                    "sample": round(sampled_rss, 1),
                    "train": round(trained_rss, 1),
                    "report": round(peak_rss_mb(), 1),
                },
                "rss_before_training_mb": rss_before_training and round(rss_before_training, 1),
            },
        )
    return report
