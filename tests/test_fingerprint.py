"""Stage fingerprints follow the code: a change to a package a stage runs redoes that stage only."""

from pipeline.fingerprint import STAGE_PACKAGES, source_sha256


def _tree(root, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_a_code_change_changes_the_fingerprint_of_the_stages_that_run_that_code(tmp_path):
    _tree(
        tmp_path,
        {
            "pipeline/prepare.py": "A = 1\n",
            "transforms/clean.py": "B = 1\n",
            "tokenizer_training/bpe.py": "C = 1\n",
            "trainer/model.py": "D = 1\n",
        },
    )
    before = {stage: source_sha256(packages, tmp_path) for stage, packages in STAGE_PACKAGES.items()}

    _tree(tmp_path, {"tokenizer_training/bpe.py": "C = 2\n", "trainer/model.py": "D = 2\n"})
    after = {stage: source_sha256(packages, tmp_path) for stage, packages in STAGE_PACKAGES.items()}
    assert [stage for stage in before if before[stage] != after[stage]] == ["train-tokenizer"]

    _tree(tmp_path, {"transforms/clean.py": "B = 2\n"})
    changed = {stage: source_sha256(packages, tmp_path) for stage, packages in STAGE_PACKAGES.items()}
    assert all(changed[stage] != after[stage] for stage in STAGE_PACKAGES)


def test_a_renamed_file_changes_the_fingerprint(tmp_path):
    _tree(tmp_path, {"transforms/a.py": "X = 1\n"})
    first = source_sha256(("transforms",), tmp_path)
    (tmp_path / "transforms/a.py").rename(tmp_path / "transforms/b.py")
    assert source_sha256(("transforms",), tmp_path) != first
