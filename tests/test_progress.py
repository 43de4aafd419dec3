"""Progress of the Beam stages (transforms/progress.py): the line, the workers' reports, the
driver's monitor, and what a real prepare run prints."""

import io
import re
import threading
import time

import pyarrow as pa
import pytest

from transforms.progress import (
    Progress,
    ProgressMonitor,
    ProgressReport,
    format_duration,
    progress_line,
    read_reports,
)

TOTAL = Progress(files=40, bytes=120_000_000)


def test_progress_line_gives_files_bytes_percentage_rate_and_eta():
    line = progress_line("prepare", Progress(10, 30_000_000), TOTAL, rate=4_500_000, elapsed=12)
    assert line == ("[textshards] prepare: read 10 of 40 files, 30.0 of 120.0 MB (25%), 4.50 MB/s, ETA 20 s")


def test_progress_line_before_a_rate_is_known_says_the_eta_is_unknown():
    line = progress_line("tokenize", Progress(0, 1_000_000), TOTAL, rate=None, elapsed=3)
    assert line.endswith("(1%), ETA unknown")


def test_progress_line_once_everything_is_read_gives_the_time_it_took():
    line = progress_line("prepare", TOTAL, TOTAL, rate=4e6, elapsed=95)
    assert line == (
        "[textshards] prepare: read 40 of 40 files, 120.0 of 120.0 MB (100%), 1 min 35 s elapsed; "
        "the steps after reading are running"
    )


def test_progress_line_of_empty_input_is_complete():
    assert "(100%)" in progress_line("prepare", Progress(1, 0), Progress(1, 0), rate=None, elapsed=1)


@pytest.mark.parametrize(
    "seconds, text", [(0.4, "0 s"), (59, "59 s"), (61, "1 min 01 s"), (3599, "59 min 59 s"), (7830, "2 h 10 min")]
)
def test_durations_read_as_seconds_minutes_or_hours(seconds, text):
    assert format_duration(seconds) == text


def test_reports_of_several_readers_add_up_and_a_piece_counts_its_bytes_once(tmp_path):
    first, second = ProgressReport(str(tmp_path)), ProgressReport(str(tmp_path))
    piece = first.piece(size=1000, files=2)
    piece.advance(300, of=1000)
    piece.advance(5000, of=1000)  # an estimate past the end (compressed input) stops at the piece's size
    piece.done()
    second.whole_file(io.BytesIO(b"x" * 700)).done()
    assert read_reports(str(tmp_path)) == Progress(files=3, bytes=1700)


def test_the_bytes_of_a_range_that_ends_no_file_are_reported_when_it_ends(tmp_path):
    report = ProgressReport(str(tmp_path))
    report.piece(size=10, files=1).done()
    report.piece(size=500, files=0).done()  # the second range of a file split in two
    assert read_reports(str(tmp_path)) == Progress(files=1, bytes=510)


def test_the_batches_of_a_file_report_their_share_of_its_bytes_as_they_are_read(tmp_path):
    report = ProgressReport(str(tmp_path))
    reading = report.whole_file(io.BytesIO(b"x" * 900))
    seen = []
    for _ in reading.of_batches([pa.record_batch({"n": [1]}), pa.record_batch({"n": [2, 3]})], rows=3):
        report.flush()
        seen.append(read_reports(str(tmp_path)))
    assert seen == [Progress(0, 300), Progress(0, 900)]
    assert read_reports(str(tmp_path)) == Progress(1, 900)


def test_a_report_without_a_directory_writes_nothing(tmp_path):
    ProgressReport(None).piece(size=10, files=1).done()
    assert read_reports(str(tmp_path / "none")) == Progress(0, 0)


def test_monitor_prints_a_line_whenever_a_report_changes(tmp_path):
    out = io.StringIO()
    report = ProgressReport(str(tmp_path))

    def read_four_files():
        for _ in range(4):
            time.sleep(0.15)
            report.piece(size=1_000_000, files=1).done()

    with ProgressMonitor("prepare", str(tmp_path), Progress(4, 4_000_000), every=0.05, out=out):
        reader = threading.Thread(target=read_four_files)
        reader.start()
        reader.join()
        time.sleep(0.2)
    lines = out.getvalue().splitlines()
    assert lines[0] == "[textshards] prepare: 4 files, 4.0 MB to read"
    assert lines[1].startswith("[textshards] prepare: read 1 of 4 files, 1.0 of 4.0 MB (25%), ETA unknown")
    assert re.search(r"read 2 of 4 files, .* \(50%\), [\d.]+ MB/s, ETA \d+ s$", lines[2])
    assert lines[-1].startswith("[textshards] prepare: read 4 of 4 files, 4.0 of 4.0 MB (100%)")
    assert len(lines) == 5  # one line per change: none while nothing moves


def test_monitor_of_a_pass_before_the_main_one_stops_once_everything_is_read(tmp_path):
    out = io.StringIO()
    report = ProgressReport(str(tmp_path), metric="record_ids")
    with ProgressMonitor(
        "prepare, record ids", str(tmp_path), Progress(2, 2_000), every=0.05, out=out, until_read=True, finished="done"
    ) as monitor:
        for _ in range(2):
            report.piece(size=1_000, files=1).done()
        time.sleep(0.3)
        assert not monitor._thread.is_alive()
    lines = out.getvalue().splitlines()
    assert lines[-1].startswith("[textshards] prepare, record ids: read 2 of 2 files, 0.0 of 0.0 MB (100%)")
    assert lines[-1].endswith("elapsed; done")


def test_monitor_set_to_zero_prints_nothing(tmp_path):
    out = io.StringIO()
    with ProgressMonitor("prepare", str(tmp_path), TOTAL, every=0, out=out):
        ProgressReport(str(tmp_path)).add(files=1, nbytes=10)
    assert out.getvalue() == ""


def test_monitor_of_remote_workers_names_the_metrics_to_watch():
    out = io.StringIO()
    with ProgressMonitor("prepare", None, TOTAL, every=5, out=out):
        pass
    assert "textshards/progress.files_read and progress.bytes_read" in out.getvalue()


@pytest.mark.slow  # the session's demo_run
def test_demo_prepare_prints_progress_lines_with_a_percentage_and_an_eta(demo_run):
    stderr = (demo_run.parent / "stderr.txt").read_text()
    prepare = [line for line in stderr.splitlines() if line.startswith("[textshards] prepare: read ")]
    with_eta = [line for line in prepare if re.search(r"\(\d+%\), [\d.]+ MB/s, ETA \d", line)]
    assert len(with_eta) >= 2, stderr
    assert re.search(r"read (\d+) of \1 files, ([\d.]+) of \2 MB \(100%\)", prepare[-1]), stderr
    # train-tokenizer's sample and tokenize report their reading too
    assert "[textshards] train-tokenizer (3 passes over the docs): read " in stderr
    assert "[textshards] tokenize: read " in stderr
