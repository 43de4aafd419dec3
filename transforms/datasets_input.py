"""Inputs of kind hf: a Hugging Face `datasets` dataset, read as the files that hold its rows.

    --input NAME:hf=DIR    a directory that Dataset.save_to_disk wrote: its Arrow files, in order
    --input NAME:hf=DIR    a directory of data files (Parquet, JSON lines) that datasets.load_dataset
                           reads: the files of its train split (or of its only one), as datasets finds them
    --input NAME:hf=OWNER/NAME   a dataset on the Hub, the same way, where the Hub can be reached

Each file is read by the readers (transforms/readers.py) like any other input file, one worker
per file (Parquet files also by row groups), batch by batch: no dataset is loaded whole, and
no copy is made in the datasets cache. A DatasetDict directory names its splits in the error:
give the split's own directory (DIR/train).
"""

from __future__ import annotations

import json

from apache_beam.io.filesystem import FileMetadata
from apache_beam.io.filesystems import FileSystems

from transforms.settings import ConfigError

# The data file formats the readers read, by the suffix datasets resolves them by.
DATA_FILE_SUFFIXES = (".parquet", ".arrow", ".jsonl", ".json", ".jsonl.gz", ".json.gz", ".jsonl.zst")
HUB_PREFIX = "hf://datasets/"


def dataset_files(location: str) -> list[FileMetadata]:
    """The files that hold the rows of the dataset at `location` (a directory or a Hub name),
    in the order of its rows; raises ConfigError, one line, where there is none to read."""
    state = FileSystems.join(location, "state.json")
    if FileSystems.exists(state):  # Dataset.save_to_disk
        with FileSystems.open(state) as handle:
            names = [item["filename"] for item in json.load(handle)["_data_files"]]
        return _metadata([FileSystems.join(location, name) for name in names])
    splits = FileSystems.join(location, "dataset_dict.json")
    if FileSystems.exists(splits):  # DatasetDict.save_to_disk
        with FileSystems.open(splits) as handle:
            names = json.load(handle)["splits"]
        raise ConfigError(
            f"{location!r} holds the splits {', '.join(names)} of a DatasetDict: name one, e.g. {location}/{names[0]}"
        )
    if FileSystems.exists(location):
        return _metadata(_data_files(location, location))
    return _hub_files(location)


def _data_files(base: str, shown: str) -> list[str]:
    """The data files of the train split (or the only split) of the directory `base`, as
    datasets.load_dataset(base) finds them."""
    from datasets.data_files import DataFilesList, EmptyDatasetError, get_data_patterns

    try:
        patterns = get_data_patterns(base)
    except EmptyDatasetError:
        raise ConfigError(f"{shown!r} holds no data file that datasets can load") from None
    split = "train" if "train" in patterns else next(iter(patterns))
    if len(patterns) > 1 and split != "train":
        raise ConfigError(f"{shown!r} has the splits {', '.join(map(str, patterns))} and no train split")
    files = sorted(DataFilesList.from_patterns(patterns[split], base_path=base))
    unread = [path for path in files if not path.endswith(DATA_FILE_SUFFIXES)]
    if unread:
        raise ConfigError(
            f"{shown!r}: {unread[0]!r} is in no format read here ({', '.join(DATA_FILE_SUFFIXES)}); "
            "convert the dataset with Dataset.save_to_disk"
        )
    return files


def _hub_files(name: str) -> list[FileMetadata]:
    """A dataset on the Hub: its data files, read through huggingface_hub's filesystem (hf://)."""
    from datasets import config
    from huggingface_hub import HfFileSystem

    if config.HF_HUB_OFFLINE:
        raise ConfigError(f"{name!r} is no local directory, and the Hugging Face Hub is off (HF_HUB_OFFLINE)")
    try:
        files = _data_files(HUB_PREFIX + name, name)
        hub = HfFileSystem()
        # No modification time on the Hub: the stage's fingerprint sees a file change by its size.
        return [FileMetadata(path, hub.info(path)["size"], 0.0) for path in files]
    except ConfigError:
        raise
    except Exception as err:  # no connection, no such dataset, no access: each its own type
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f"{name!r} is no local directory and could not be read from the Hugging Face Hub: {reason}")


def _metadata(paths: list[str]) -> list[FileMetadata]:
    """Path, size and modification time of each file, in the order given."""
    return [FileSystems.match([path])[0].metadata_list[0] for path in paths]
