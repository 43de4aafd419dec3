"""textshards' Prepare inside a Beam pipeline of one's own (README, "Python API").

    python examples/beam_pipeline.py [--books GLOB] [--output DIR] [BEAM_OPTIONS]

The pipeline makes its own documents, here one per paragraph of each book, and hands the
PCollection to `textshards.Prepare`, which cleans, filters and deduplicates it and writes docs/,
stats.json and the rest into the output directory. Prepare returns the stats report, which the
pipeline goes on with: here, it prints the funnel.
"""

import argparse

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

import textshards


def paragraphs(path: str) -> list[dict]:
    """One document record per paragraph of a plain-text book: id, source, text."""
    with FileSystems.open(path) as handle:
        book = handle.read().decode("utf-8", errors="replace")
    name = path.rsplit("/", 1)[-1]
    texts = [p.strip() for p in book.replace("\r\n", "\n").split("\n\n") if p.strip()]
    return [{"id": f"{name}:{i}", "source": "paragraphs", "text": text} for i, text in enumerate(texts)]


def funnel(report: dict) -> str:
    totals = report["totals"]
    return (
        f"{totals.get('documents_read', 0)} paragraphs read, {totals.get('documents_after_filter', 0)} "
        f"kept by the filters, {totals.get('documents_out', 0)} left after deduplication"
    )


def main(books: str, output: str, beam_args: list[str]) -> None:
    config = textshards.Config()
    # Records count as web text, and the web's line rules (C4, FineWeb) would judge a hard-wrapped
    # paragraph line by line: this source gets the rules that suit it, with a 20-word minimum.
    config.filters.sources = [
        textshards.SourceSteps("paragraphs", ["language", "gopher_repetition", "gopher_quality(min_words=20)", "pii"])
    ]
    paths = [m.path for m in FileSystems.match([books])[0].metadata_list]
    with beam.Pipeline(options=PipelineOptions(beam_args)) as pipeline:
        _ = (
            pipeline
            | "Books" >> beam.Create(sorted(paths))
            | "Paragraphs" >> beam.FlatMap(paragraphs)
            | "Prepare" >> textshards.Prepare(config, output)
            | "Funnel" >> beam.Map(lambda report: print(funnel(report)))
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--books", default="examples/corpus/books/*.txt", help="plain-text books (a glob)")
    parser.add_argument("--output", default="beam_pipeline_output", help="Prepare's output directory")
    args, beam_args = parser.parse_known_args()
    main(args.books, args.output, beam_args)
