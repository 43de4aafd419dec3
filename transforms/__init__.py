"""The bottom layer: per-record logic and the Beam transforms around it. Imports no other package of ours.

Text logic lives in plain functions (testable without Beam); the DoFns and composite PTransforms
around them are thin. Each stage's settings dataclass lives beside the code that applies it.

    settings.py        typed, documented settings: `setting()`, the loader, the YAML printer, ConfigError
    records.py         the records that flow through prepare: RawDocument, ReadError, Document
    readers.py         files (or ranges of large ones) -> raw documents (text, HTML, WARC/WET/ARC, JSONL,
                       Parquet; gzip/zstd); InputSpec, ReadConfig
    warc.py            WARC/WET/ARC records, streamed
    encoding.py        bytes -> text (BOM, declared charset, detection, cp1252 fallback)
    html_text.py       HTML -> main text (trafilatura)
    mojibake.py        ASCII-transliterated mojibake repaired
    unicode_fix.py     ftfy's fixes, with a fast path that gives identical output
    gutenberg.py       Project Gutenberg headers, footers and licence removed
    normalize.py       whitespace and line endings normalised
    clean.py           the cleaning stage: `clean_document`; CleanConfig
    filters/           quality filter steps (Gopher, C4, FineWeb) and the filter stage
    langid.py, pii.py  the language-ID and PII redaction filter steps
    document_stage.py  prepare's per-document stage: an input part read, cleaned, filtered into part files
    parts.py           part files: written and read back by reference, planned into ordered shards
    dedup/             exact and MinHash LSH near-duplicate removal on part files, connected components
    decontaminate/     benchmark items: their n-gram index (built in Beam, read in partitions), matching, drop/redact
    sampling.py        places by hash of document id; per-source weights
    bpe.py             byte-level BPE tokenizer files: load, byte table, training pieces
    tokenizer_copies.py  every copy of a tokenizer: tokenizer.json and the files transformers reads beside it
    tokenizer_file.py  a tokenizer.json as tokenize reads it; the tiktoken fast-path proof
    encode.py          documents -> token ids (fast and reference encoders); TokenizeConfig
    shards/            token shard layout, Arrow files, writing, manifest, exports
    stats.py           counts as data, the dead-letter and stats tags
    progress.py        files and bytes read of a Beam stage's input: workers' reports, the driver's lines, ETA
    writers.py         sorted, sized Parquet/JSONL shards; atomic single files; WriteConfig
    outputs.py         atomic output directories: .incomplete/RUN_ID/, then _SUCCESS
    output_lock.py     one run at a time per output directory: DIR/_LOCK names its holder
"""
