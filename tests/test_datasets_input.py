"""Inputs of kind hf (`--input NAME:hf=PATH_OR_NAME`): Hugging Face datasets saved to disk, or
directories of their data files, read file by file with the same readers and steps as any input."""

import json
import random
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest

from pipeline.cli import main
from pipeline.config import Config, parse_input_arg
from pipeline.prepare import run_prepare
from tests.helpers import IN_MEMORY, PROSE
from transforms.datasets_input import dataset_files
from transforms.readers import InputSpec, ReadConfig, read_file
from transforms.records import ReadError
from transforms.settings import ConfigError

TEXTS = [f"Document number {i}. " + PROSE for i in range(5)]


def _read(spec: InputSpec, config: ReadConfig | None = None) -> list:
    return [item for m in spec.matched_files() for item in read_file(spec, m.path, config or ReadConfig())]


def test_saved_dataset_is_read_file_by_file_with_its_id_column(tmp_path):
    ids = [f"doc-{i}" for i in range(5)]
    datasets.Dataset.from_dict({"text": TEXTS, "id": ids}).save_to_disk(tmp_path / "ds", num_shards=2)
    spec = parse_input_arg(f"mine:hf={tmp_path / 'ds'}")
    assert (spec.name, spec.kind) == ("mine", "hf")
    files = [Path(m.path).name for m in spec.matched_files()]
    assert files == ["data-00000-of-00002.arrow", "data-00001-of-00002.arrow"]
    docs = _read(spec)
    assert [(d.record_id, d.data, d.container) for d in docs] == [(i, t, "arrow") for i, t in zip(ids, TEXTS)]
    assert docs[0].id == f"mine:{files[0]}:doc-0"  # the path below the dataset's directory


def test_saved_dataset_without_id_column_numbers_rows_and_reads_named_columns(tmp_path):
    datasets.Dataset.from_dict({"content": TEXTS, "link": ["https://example.org"] * 5}).save_to_disk(tmp_path / "ds")
    spec = InputSpec("mine", str(tmp_path / "ds"), "hf")
    docs = _read(spec, ReadConfig(text_field="content", url_field="link"))
    assert [(d.position, d.record_id, d.url) for d in docs] == [(i, None, "https://example.org") for i in range(5)]
    [missing] = _read(spec)  # no "text" column: one dead letter for the file
    assert isinstance(missing, ReadError) and missing.error == "missing_text"


def test_directory_of_data_files_reads_the_train_split_as_datasets_finds_it(tmp_path):
    dataset = datasets.Dataset.from_dict({"text": TEXTS, "id": [str(i) for i in range(5)]})
    (tmp_path / "data").mkdir()
    dataset.select(range(3)).to_parquet(tmp_path / "data" / "train-00000.parquet")
    dataset.select(range(3, 5)).to_json(tmp_path / "data" / "train-00001.jsonl")
    dataset.to_parquet(tmp_path / "data" / "test-00000.parquet")  # another split: not read
    docs = _read(InputSpec("mine", str(tmp_path), "hf"))
    assert [d.data for d in docs] == TEXTS
    assert [(d.container, d.record_id) for d in docs] == [("parquet", "0"), ("parquet", "1"), ("parquet", "2")] + [
        ("jsonl", None)
    ] * 2  # JSON lines take read.id_field as any jsonl input does


def test_dataset_dict_and_unreachable_hub_name_are_one_line_config_errors(tmp_path, monkeypatch):
    datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": TEXTS})}).save_to_disk(tmp_path / "dd")
    with pytest.raises(ConfigError, match=r"holds the splits train of a DatasetDict: name one, e.g. .*/dd/train$"):
        dataset_files(str(tmp_path / "dd"))
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    with pytest.raises(ConfigError, match="'someone/corpus' is no local directory, and the Hugging Face Hub is off"):
        dataset_files("someone/corpus")


def test_cli_refuses_an_unreachable_hub_dataset_in_one_line_before_any_work(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    assert main(["prepare", "--input", "web:hf=someone/corpus", "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'someone/corpus' is no local directory" in err
    assert not (tmp_path / "out").exists()


def test_prepare_reads_a_dataset_saved_to_disk_through_every_step(tmp_path):
    words = PROSE.split()
    distinct = [" ".join(random.Random(i).sample(words, len(words))) for i in range(5)]  # no near duplicates
    texts = [*distinct, distinct[0], ""]  # an exact duplicate, and an empty document
    ids = [f"doc-{i}" for i in range(len(texts))]
    datasets.Dataset.from_dict({"text": texts, "id": ids}).save_to_disk(tmp_path / "ds")
    config = Config(inputs=[parse_input_arg(f"saved:hf={tmp_path / 'ds'}")], output=str(tmp_path / "out"))
    config.filters.web = []  # shuffled words are no prose: this test is about reading and deduplication
    report = run_prepare(config, IN_MEMORY)

    docs = pq.read_table(tmp_path / "out" / "docs").to_pylist()
    assert [d["id"].rsplit(":", 1)[1] for d in docs] == ids[:5]
    assert {d["container"] for d in docs} == {"arrow"}
    saved = report["sources"]["saved"]
    assert (saved["files"], saved["documents_read"], saved["documents_out"]) == (1, 6, 5)
    assert saved["dropped"] == {"exact_duplicate": 1} and saved["dead_letter"] == {"empty_document": 1}
    assert json.loads((tmp_path / "out" / "stats.json").read_text()) == report
