"""The command line's own parsing: flags in either place, `inspect rejected DIR`, and Beam options
given where textshards' own go."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.cli import _build_parser, _trainer_parser, main


@pytest.mark.parametrize("build", [_build_parser, _trainer_parser])
def test_verbose_is_accepted_before_and_after_the_command(build):
    command = "prepare" if build is _build_parser else "train"
    parser = build()
    assert parser.parse_args(["-v", command]).verbose is True
    assert parser.parse_args([command, "-v"]).verbose is True
    assert parser.parse_args([command, "--verbose"]).verbose is True
    assert parser.parse_args([command]).verbose is False


def test_beam_options_before_the_double_dash_are_refused_saying_where_they_go(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["prepare", "--input", "a=b/*", "--output", "out", "--runner", "DataflowRunner"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments: --runner DataflowRunner; Beam pipeline options go after '--'" in err


def _write_rejected(output) -> None:
    (output / "rejected").mkdir(parents=True)
    rows = {"id": ["web:a.html:0"], "source": ["web"], "url": [None], "language": ["de"], "language_score": [0.9]}
    rows |= {"reason": ["language.not_allowed"], "text": ["Die Fischerboote"]}
    pq.write_table(pa.table(rows), output / "rejected" / "part-00000.parquet")


def test_inspect_rejected_takes_the_prepare_directory_as_its_argument(tmp_path, capsys):
    _write_rejected(tmp_path / "out")
    assert main(["inspect", "rejected", str(tmp_path / "out")]) == 0
    shown = capsys.readouterr()
    assert "1 rejected documents" in shown.out and "language.not_allowed" in shown.out and shown.err == ""

    # The old form still works, saying what replaces it.
    assert main(["inspect", "rejected", "--output", str(tmp_path / "out")]) == 0
    old = capsys.readouterr()
    assert old.out == shown.out
    assert old.err == "textshards: 'inspect rejected --output DIR' is deprecated: use 'inspect rejected DIR'\n"

    assert main(["inspect", "rejected", str(tmp_path / "out"), "--output", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == "textshards: inspect rejected: give the directory once: inspect rejected DIR\n"
    assert main(["inspect", str(tmp_path / "shards"), str(tmp_path / "out")]) == 2
    assert "takes one directory" in capsys.readouterr().err
