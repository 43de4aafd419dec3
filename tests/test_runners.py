"""The pipelines write the DirectRunner's bytes on a portable runner.

PortableRunner: a local Beam job service and an SDK worker pool, each its own process. The job
goes through the Runner API as a pipeline proto, every DoFn is pickled, and SDK harness
processes started by the pool run them: the path Flink, Spark and Dataflow Runner v2 take
(docs/runners.md).

There, prepare, train-tokenizer and tokenize run over one small corpus that has dead letters,
duplicates and several shards of every kind; every file they write must equal what the same
stages write on the DirectRunner, byte for byte.
"""

import gzip
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from pipeline.beam_runner import in_one_process
from pipeline.config import Config
from pipeline.prepare import one_input_part, run_prepare
from pipeline.tokenize import run_tokenize
from pipeline.train_tokenizer import run_train_tokenizer
from tests.conftest import REPO_ROOT
from tests.local_services import Service, beam_job_service
from tokenizer_training.bpe import TokenizerConfig
from transforms.decontaminate.settings import BenchmarkSpec
from transforms.encode import TokenizeConfig
from transforms.filters.stage import FiltersConfig, SourceSteps
from transforms.readers import InputSpec
from transforms.settings import ConfigError
from transforms.writers import WriteConfig

EXAMPLES = REPO_ROOT / "examples" / "corpus"
# Pages also inside the WARC (exact duplicates across sources) and two that are not.
PAGES = [
    "faq/gui.html",
    "faq/installed.html",
    "library/bisect.html",
    "library/secrets.html",
    "library/copy.html",
    "library/keyword.html",
]
# train-tokenizer's _SUCCESS records how long its steps took and the memory they used:
# measurements of the run, not outputs.
RUN_MEASUREMENTS = ("seconds", "peak_rss_mb", "rss_before_training_mb")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """Two books, the demo's WARC and six of its pages, and three files that are dead letters."""
    root = tmp_path_factory.mktemp("corpus")
    (root / "books").mkdir()
    for name in ("alice29.txt", "asyoulik.txt"):
        shutil.copy(EXAMPLES / "books" / name, root / "books" / name)
    for page in PAGES:
        (root / "web" / page).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(EXAMPLES / "web" / "python-docs" / page, root / "web" / page)
    shutil.copy(EXAMPLES / "web" / "python-docs.warc.gz", root / "web")
    (root / "broken").mkdir()
    compressed = gzip.compress(b"".join(b'{"text": "line %d of a cut file"}\n' % i for i in range(2000)))
    (root / "broken" / "cut.jsonl.gz").write_bytes(compressed[: len(compressed) // 2])
    (root / "broken" / "junk.bin").write_bytes(b"\x00\x01\x02" * 100)
    (root / "broken" / "empty.txt").write_bytes(b"")
    return root


def _run_all_stages(corpus: Path, root: Path, beam_args: list[str], upstream: Path) -> Path:
    """prepare, train-tokenizer and tokenize on `beam_args`, into root/{prepare,tokenizer,shards}.

    train-tokenizer and tokenize read upstream/prepare/docs and upstream/tokenizer: the same
    files on every runner. Documents go to validation by hash of their id (the same wherever the
    corpus is): 0.3 of the ~21 documents, and shards of 50,000 tokens, leave both splits
    non-empty and the train split in several shards."""
    prepare = Config(
        inputs=[
            InputSpec(name="books", glob=f"{corpus}/books/*.txt"),
            InputSpec(name="web", glob=f"{corpus}/web/**"),
            InputSpec(name="broken", glob=f"{corpus}/broken/*"),
        ],
        output=str(root / "prepare"),
        write=WriteConfig(shard_target_bytes=300_000),
        # Python's documentation is full of code lines, which the web line rules would strip (examples/demo.yaml).
        filters=FiltersConfig(sources=[SourceSteps(source="web", steps=["language", "gopher_repetition", "pii"])]),
    )
    run_prepare(prepare, beam_args)
    docs = str(upstream / "prepare" / "docs")
    run_train_tokenizer(
        Config(output=str(root / "tokenizer"), tokenizer=TokenizerConfig(docs=docs, vocab_size=512)), beam_args
    )
    run_tokenize(
        Config(
            output=str(root / "shards"),
            tokenize=TokenizeConfig(
                docs=docs,
                tokenizer=str(upstream / "tokenizer"),
                validation_fraction=0.3,
                shard_target_tokens=50_000,
                export_nanogpt=True,
            ),
        ),
        beam_args,
    )
    return root


def _outputs(root: Path) -> dict[str, str]:
    """sha256 of every file below `root`, by relative path (train-tokenizer's _SUCCESS without
    its measurements)."""
    digests = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        name = str(path.relative_to(root))
        data = path.read_bytes()
        if name == "tokenizer/_SUCCESS":
            data = json.dumps({k: v for k, v in json.loads(data).items() if k not in RUN_MEASUREMENTS}).encode()
        digests[name] = hashlib.sha256(data).hexdigest()
    return digests


@pytest.fixture(scope="module")
def direct_run(corpus, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("direct")
    return _run_all_stages(corpus, root, ["--direct_running_mode=in_memory"], upstream=root)


@pytest.fixture(scope="module")
def job_service(tmp_path_factory) -> Service:
    with beam_job_service(tmp_path_factory.mktemp("job_service")) as service:
        yield service


# ---------------------------------------------------------------------------
# The tests


@pytest.mark.slow
def test_the_shared_input_exercises_every_kind_of_output(direct_run):
    names = list(_outputs(direct_run))
    for prefix, at_least in (
        ("prepare/docs/", 2),
        ("prepare/dead_letter/", 1),
        ("prepare/duplicates/", 1),
        ("shards/train/", 2),
        ("shards/validation/", 1),
        ("shards/nanogpt/", 2),
    ):
        assert sum(name.startswith(prefix) for name in names) >= at_least, (prefix, names)
    for name in (
        "prepare/stats.json",
        "prepare/report.png",
        "prepare/_SUCCESS",
        "tokenizer/tokenizer.json",
        "tokenizer/tokenizer_report.json",
        "shards/manifest.json",
        "shards/_SUCCESS",
    ):
        assert name in names


@pytest.mark.slow
def test_portable_runner_with_sdk_worker_processes_writes_the_direct_runners_bytes(
    corpus, direct_run, job_service, tmp_path
):
    outputs = _outputs(_run_all_stages(corpus, tmp_path, job_service.beam_args, upstream=direct_run))
    assert outputs == _outputs(direct_run)
    # The DoFns ran in SDK harness processes the pool started, not in this one.
    assert "Starting worker with command" in (job_service.logs / "worker_pool.log").read_text()


def test_a_relative_path_is_refused_where_workers_have_a_directory_of_their_own(corpus, tmp_path, monkeypatch):
    monkeypatch.chdir(corpus.parent)
    config = Config(inputs=[InputSpec(name="books", glob=f"{corpus.name}/books/*.txt")], output=str(tmp_path))
    with pytest.raises(ConfigError, match="relative"):
        run_prepare(config, ["--runner=PortableRunner", "--job_endpoint=localhost:1"])


def test_one_in_memory_worker_is_asked_of_the_direct_runner_only_where_no_mode_is_given():
    assert in_one_process(["--foo=1"]) == ["--foo=1", "--direct_running_mode=in_memory", "--direct_num_workers=1"]
    for beam_args in (["--direct_running_mode=multi_processing"], ["--runner=DataflowRunner"]):
        assert in_one_process(beam_args) == beam_args


def test_prepare_takes_one_process_only_for_an_input_of_one_part(tmp_path):
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    for path in (first, second):
        path.write_text('{"text": "a short document"}\n' * 100)  # 3.3 KB
    config = Config(inputs=[InputSpec(name="web", glob=str(first))])
    size = first.stat().st_size
    assert one_input_part(config, size)
    # Two inputs are two parts, one per input.
    two_inputs = Config(inputs=[InputSpec(name="web", glob=str(first)), InputSpec(name="more", glob=str(second))])
    assert not one_input_part(two_inputs, 2 * size)
    # A file larger than a part is cut into ranges that several workers read.
    config.read.split_bytes = size // 2
    assert not one_input_part(config, size)
    # Decontamination builds the benchmarks' index too: work besides the one part's.
    config = Config(inputs=[InputSpec(name="web", glob=str(first))])
    config.decontaminate.benchmarks = [BenchmarkSpec(name="quiz", path=str(second))]
    assert not one_input_part(config, size)
