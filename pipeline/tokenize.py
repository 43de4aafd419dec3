"""`textshards tokenize`: cleaned documents in, shuffled Arrow token shards out.

    docs/*.parquet --spread files, read ids--> document count, top hash --> where validation starts
    docs/*.parquet --spread files, read in ~4 MB batches--> encode (split, copies, ids + eos; threads)--> batches
        batches --WriteShards (stage to files, count per split, split by shard, group the
                  references, read, sort, write)--> train/, validation/
        shards --export (optional)--> megatron/, nanogpt/
        shard infos + counts + exports --> manifest.json; then commit and _SUCCESS

Everything is written under DIR/.incomplete/RUN_ID, while the run holds DIR's lock, and moved into
place when the pipeline has finished (transforms/outputs.py), manifest.json last, then _SUCCESS.
Token data crosses no shuffle: the encoded batches wait in files under DIR/.incomplete/RUN_ID/.work
(transforms/shards/write.py), which goes when
the shards are written (and with .incomplete at the latest). The same documents, tokenizer and config
give byte-identical shards and manifest, on any runner (docs/shards.md).
"""

from __future__ import annotations

import dataclasses
import logging
import time

import apache_beam as beam
import numpy as np
from apache_beam.io.filesystems import FileSystems

from pipeline import fingerprint
from pipeline.beam_runner import check_workers_can_reach, in_one_process, run_pipeline
from pipeline.config import Config, check_sources_prepared, command_problems
from transforms import outputs
from transforms.encode import (
    EncodeDocuments,
    FastEncoder,
    ReferenceEncoder,
    TokenizeConfig,
    add_id_totals,
    id_totals,
)
from transforms.progress import ProgressMonitor, ProgressReport, progress_directory, total_of
from transforms.settings import ConfigError, raise_problems
from transforms.shards.arrow import read_shard
from transforms.shards.export import FORMATS, export_nanogpt_meta, export_split
from transforms.shards.layout import SPLITS, validation_from
from transforms.shards.manifest import MANIFEST, TOKENIZER_FILE, build_manifest, manifest_bytes, read_manifest
from transforms.shards.write import WriteShards
from transforms.stats import STATS_TAG
from transforms.tokenizer_copies import tokenizer_files
from transforms.tokenizer_file import TokenizerError, TokenizerFile, read_tokenizer_file
from transforms.writers import write_file_atomically

EXPORT_DIRECTORIES = {"megatron": "megatron", "nanogpt": "nanogpt"}
WORK_DIRECTORY = ".work"  # under staging: WriteShards' intermediate files


def exports_of(settings: TokenizeConfig) -> list[str]:
    return [fmt for fmt in FORMATS if getattr(settings, f"export_{fmt}")]


def choose_backend(settings: TokenizeConfig, tokenizer: TokenizerFile) -> str:
    """The encoder to run: the fast one where it is valid and allowed; says so in the log."""
    problem = tokenizer.fast_path_problem
    if settings.encoder == "tokenizers":
        logging.info("tokenize: encoding with tokenizers, as configured (tokenize.encoder)")
        return ReferenceEncoder.backend
    if problem is None:
        logging.info("tokenize: encoding with the fast path (tiktoken, tokenizers' exact ids)")
        return FastEncoder.backend
    if settings.encoder == "tiktoken":
        raise ConfigError(f"tokenize.encoder: tiktoken cannot serve {tokenizer.path}: {problem}")
    logging.warning(
        "tokenize: the fast tiktoken encoder cannot serve %s (%s); falling back to tokenizers, several times slower",
        tokenizer.path,
        problem,
    )
    return ReferenceEncoder.backend


class TokenizeDocuments(beam.PTransform):
    """The whole tokenize stage; writes shards, exports and manifest.json under `staging`."""

    def __init__(
        self, settings: TokenizeConfig, files: list[str], tokenizer: TokenizerFile, backend: str, staging: str
    ):
        super().__init__()
        self._settings = settings
        self._files = files
        # Without its bytes: steps pickle this transform, and workers read the staged copy.
        self._tokenizer = dataclasses.replace(tokenizer, data=b"")
        self._backend = backend
        self._staging = staging

    def expand(self, pbegin):
        settings, tokenizer = self._settings, self._tokenizer
        files = pbegin | "Docs files" >> beam.Create(self._files) | "Spread files" >> beam.Reshuffle()
        validation_start = (  # a float: where the validation split starts in the hash order
            files
            | "Count ids" >> beam.Map(id_totals)
            | "Sum ids" >> beam.CombineGlobally(add_id_totals)
            | "Validation from" >> beam.MapTuple(lambda n, top: validation_from(settings.validation_fraction, n, top))
        )
        encoded = files | "Read and encode" >> beam.ParDo(
            EncodeDocuments(
                outputs.join(self._staging, TOKENIZER_FILE),
                self._backend,
                settings,
                tokenizer.dtype,
                tokenizer.eos_id,
                ProgressReport(progress_directory(self._staging)),
            ),
            validation_from=beam.pvalue.AsSingleton(validation_start),
        ).with_outputs(STATS_TAG, main="batches")
        shards = encoded.batches | "Write shards" >> WriteShards(
            self._staging,
            outputs.join(self._staging, WORK_DIRECTORY),
            tokenizer.dtype,
            settings.shard_target_tokens or settings.shard_target_bytes // np.dtype(tokenizer.dtype).itemsize,
            settings.seq_len if settings.packed else None,
        )
        exports = (
            pbegin
            | "Export formats" >> beam.Create([(fmt, split) for fmt in exports_of(settings) for split in SPLITS])
            | "Spread exports" >> beam.Reshuffle()
            | "Export" >> beam.MapTuple(self._export, shards=beam.pvalue.AsList(shards))
        )
        counts = (
            encoded[STATS_TAG] | "Sum counts" >> beam.CombinePerKey(sum) | "Collect counts" >> beam.combiners.ToList()
        )
        _ = (
            pbegin
            | "Manifest" >> beam.Create([None])
            | "Write manifest"
            >> beam.Map(
                self._write_manifest,
                shards=beam.pvalue.AsList(shards),
                counts=beam.pvalue.AsSingleton(counts),
                exports=beam.pvalue.AsList(exports),
            )
        )

    def _export(self, fmt: str, split: str, shards: list[dict] = ()) -> dict:
        paths = [
            outputs.join(self._staging, s["path"])
            for s in sorted(shards, key=lambda s: s["index"])
            if s["split"] == split
        ]
        tokenizer = self._tokenizer
        info = export_split(fmt, split, paths, self._staging, tokenizer.vocab_size)
        if fmt == "nanogpt" and split == "train":  # once per export: what goes with the .bin files
            with FileSystems.open(outputs.join(self._staging, TOKENIZER_FILE)) as handle:
                tokenizer_json = handle.read()
            info["files"] += export_nanogpt_meta(
                self._staging, tokenizer_json, tokenizer.vocab_size, tokenizer.eos_id, self._settings.eos_token
            )
        return info

    def _write_manifest(self, _, shards: list[dict], counts: list, exports: list[dict]) -> None:
        tokenizer = self._tokenizer
        manifest = build_manifest(
            shards,
            counts,
            exports,
            self._settings,
            dtype=tokenizer.dtype,
            eos_id=tokenizer.eos_id,
            vocab_size=tokenizer.vocab_size,
            tokenizer_sha256=tokenizer.sha256,
            backend=self._backend,
            fast_path_problem=tokenizer.fast_path_problem,
        )
        write_file_atomically(outputs.join(self._staging, MANIFEST), manifest_bytes(manifest))


def check_settings(config: Config) -> tuple[list[str], TokenizerFile]:
    """Everything checked before any work: (docs files, tokenizer); raises ConfigError."""
    settings = config.tokenize
    raise_problems(command_problems(config, "tokenize"))
    files = outputs.docs_files(settings.docs, "tokenize.docs")
    check_sources_prepared(settings.docs, "tokenize.source_weights", settings.source_weights)
    try:
        tokenizer = read_tokenizer_file(settings.tokenizer, settings.eos_token)
    except TokenizerError as err:
        raise ConfigError(f"tokenize.tokenizer: {err}") from None
    if settings.export_nanogpt and tokenizer.dtype != "uint16":
        raise ConfigError(
            f"tokenize.export_nanogpt: nanoGPT reads uint16 tokens, but the vocabulary has {tokenizer.vocab_size} ids"
        )
    if not FileSystems.exists(outputs.join(outputs.prepare_output_of(settings.docs), outputs.SUCCESS)):
        logging.warning(
            "tokenize: %s has no %s beside it: the run that wrote it may not have finished",
            settings.docs,
            outputs.SUCCESS,
        )
    return files, tokenizer


def run_tokenize(config: Config, beam_args: list[str]) -> dict:
    """Checks, runs the pipeline, commits the outputs; returns the manifest."""
    check_workers_can_reach(beam_args, {"tokenize.docs": config.tokenize.docs, "output": config.output})
    files, tokenizer = check_settings(config)
    settings = config.tokenize
    backend = choose_backend(settings, tokenizer)
    config_sha256 = fingerprint.tokenize(config, tokenizer.sha256)
    started = time.monotonic()
    with outputs.staged(config.output, config.runner.wait_for_lock) as run:
        # Workers read the tokenizer from the output (reachable by every worker on any filesystem).
        tokenizer_copy = tokenizer_files(tokenizer.data, settings.eos_token)
        for name, data in tokenizer_copy.items():
            write_file_atomically(outputs.join(run.staging, name), data)
        with ProgressMonitor(
            "tokenize",
            progress_directory(run.staging),
            total_of(outputs.docs_pattern(settings.docs)),
            config.runner.progress_seconds,
        ):
            run_pipeline(
                lambda p: p | "Tokenize" >> TokenizeDocuments(settings, files, tokenizer, backend, run.staging),
                in_one_process(beam_args),  # the encoder's threads use every core by themselves
                config.runner,
            )
        exports = exports_of(settings)
        for fmt in set(FORMATS) - set(exports):  # an earlier run's exports would not match these shards
            stale = outputs.join(config.output, EXPORT_DIRECTORIES[fmt])
            if FileSystems.exists(stale):
                FileSystems.delete([stale])
        run.commit(
            directories=list(SPLITS) + [EXPORT_DIRECTORIES[f] for f in exports],
            files=[*tokenizer_copy, MANIFEST],
            success_info={"stage": "tokenize", fingerprint.FIELD: config_sha256},
        )
    manifest = read_manifest(config.output)
    _warn_unused_weights(settings, manifest)
    if not any(split["tokens"] for split in manifest["splits"].values()):
        logging.warning("tokenize: no document reached the shards (empty docs, or every source weighs 0)")
    logging.info("tokenize finished in %.1f s", time.monotonic() - started)
    return manifest


def _warn_unused_weights(settings: TokenizeConfig, manifest: dict) -> None:
    for weight in settings.source_weights:
        if weight.source not in manifest["sources"]:
            logging.warning(
                "tokenize.source_weights: no document has source %r (sources: %s)",
                weight.source,
                ", ".join(sorted(manifest["sources"])) or "none",
            )


# ---------------------------------------------------------------------------
# What `textshards tokenize` and `textshards inspect DIR` print


def splits_table(manifest: dict) -> str:
    lines = [f"{'split':<12}{'shards':>7}{'documents':>11}{'rows':>9}{'tokens':>13}{'MB':>9}"]
    for split, info in manifest["splits"].items():
        lines.append(
            f"{split:<12}{len(info['shards']):>7}{info['documents']:>11}{info['rows']:>9}"
            f"{info['tokens']:>13}{info['bytes'] / 1e6:>9.2f}"
        )
    lines.append("")
    lines.append(
        f"{'source':<16}{'read':>9}{'MB':>9}{'train docs':>12}{'train tokens':>14}{'val docs':>10}{'val tokens':>12}"
    )
    for source, counts in sorted(manifest["sources"].items()):
        train, val = counts.get("train", {}), counts.get("validation", {})
        lines.append(
            f"{source:<16}{counts.get('documents_read', 0):>9}{counts.get('bytes_read', 0) / 1e6:>9.2f}"
            f"{train.get('documents', 0):>12}{train.get('tokens', 0):>14}{val.get('documents', 0):>10}"
            f"{val.get('tokens', 0):>12}"
        )
    return "\n".join([*lines, "", validation_note(manifest)])


def validation_note(manifest: dict) -> str:
    """How many documents went to validation, and by which rule (transforms/shards/layout.py)."""
    read = sum(counts.get("documents_read", 0) for counts in manifest["sources"].values())
    chosen = manifest["splits"]["validation"]["documents"]
    fraction = manifest["config"]["validation_fraction"]
    said = f"validation: {chosen} of {read} documents"
    if any(counts.get("validation", {}).get("by_minimum") for counts in manifest["sources"].values()):
        return (
            f"{said}: tokenize.validation_fraction {fraction} of the hash order of ids held none, so the "
            "document at its top went there (validation is never empty with 2 documents or more)"
        )
    if chosen == 0 and fraction > 0:
        return f"{said}: fewer than 2 documents, none to spare for validation"
    return f"{said}: tokenize.validation_fraction {fraction}, by hash of id"


def shard_summary(directory: str, samples: int = 3, chars: int = 300) -> str:
    """The manifest in a few lines and the first `samples` rows of the first train shard decoded."""
    from transforms.bpe import load_tokenizer

    manifest = read_manifest(directory)
    encoder = manifest["encoder"]
    lines = [
        f"{directory}: {manifest['mode']} shards"
        + (f" (windows of seq_len + 1 = {manifest['seq_len'] + 1})" if manifest["mode"] == "packed" else "")
        + f", {manifest['dtype']}, vocabulary {manifest['vocab_size']}, eos {manifest['eos_token']!r} = "
        f"{manifest['eos_id']}",
        f"tokenizer sha256 {manifest['tokenizer_sha256']}; encoded with {encoder['backend']}"
        + (f" (fast path not possible: {encoder['fast_path_problem']})" if encoder["fast_path_problem"] else ""),
        "complete" if outputs.is_complete(directory) else f"INCOMPLETE: no {outputs.SUCCESS}",
        "",
        splits_table(manifest),
    ]
    for export in manifest["exports"]:
        lines.append(
            f"export {export['format']} {export['split']}: {export['sequences']} sequences, "
            f"{export['tokens']} tokens, {export['dtype']}: " + ", ".join(f["path"] for f in export["files"])
        )
    first = next((s for split in SPLITS for s in manifest["splits"][split]["shards"] if s["rows"]), None)
    if first is None or samples <= 0:
        return "\n".join(lines)
    tokenizer = load_tokenizer(outputs.join(directory, manifest["tokenizer_file"]))
    with FileSystems.open(outputs.join(directory, first["path"])) as handle:
        table = read_shard(handle.read()).slice(0, samples)
    lines += ["", f"first {table.num_rows} rows of {first['path']}:"]
    for row in table.to_pylist():
        text = tokenizer.decode(row["input_ids"], skip_special_tokens=False)
        what = (
            f"{row['id']} ({row['source']})"
            if "id" in row
            else f"window with documents starting at {row['doc_starts']}: {', '.join(row['ids'])}"
        )
        shown = text[:chars] + (f"... [{len(text) - chars} more characters]" if len(text) > chars else "")
        lines += [f"--- {what}, {row['num_tokens']} tokens", shown]
    return "\n".join(lines)
