"""Progress of long reads: what the readers report (linfit/data/progress.py) and the
terminal line drawn from it (linfit/cli/progress.py).

Each reader opens one track per read: a first report of 0, reports that never go back,
and a final report, which for a read that completed is the whole file (bytes) or table
(rows). The line shows only on a terminal, only after DELAY seconds of a read, and is
wiped when the read ends.
"""

from __future__ import annotations

import gzip
import io
import itertools
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import linfit.data.load as load_module
from linfit.cli import progress as line
from linfit.cli.progress import read_progress
from linfit.data import fastcsv, load_dataset, progress, read_table
from linfit.data.progress import Report, reporting_to
from linfit.data.stream import stream_dataset

ROWS = 20_000


def _write_table(path: Path, rows: int = ROWS, quoted: bool = False) -> Path:
    """A numeric table of 4 features and a target, about 75 bytes a row."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(rows, 4)), columns=["a", "b", "c", "d"])
    frame["y"] = rng.integers(0, 3, size=rows)
    if quoted:  # a quoted header: the scanner leaves the file to pandas
        frame.columns = ["a", "b c", "d", "e", "y"]
    text = frame.to_csv(index=False)
    if quoted:
        text = text.replace("b c", '"b c"', 1)
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def _collect(read: Callable[[], object]) -> tuple[object, list[Report]]:
    reports: list[Report] = []
    with reporting_to(reports.append):
        result = read()
    return result, reports


def _reads(reports: list[Report]) -> list[list[Report]]:
    """The reports split into reads, each from its first report to its final one."""
    reads, current = [], []
    for report in reports:
        current.append(report)
        if report.final:
            reads.append(current)
            current = []
    assert current == [], "a read without a final report"
    return reads


def _assert_one_complete_read(read: list[Report], total: int, unit: str = "bytes") -> None:
    """Starts at 0, never goes back, ends final at the total; one name, total and unit."""
    assert read[0].done == 0 and not read[0].final
    done = [r.done for r in read]
    assert done == sorted(done), f"reports went back: {done}"
    assert read[-1].final and read[-1].done == total
    assert all(not r.final for r in read[:-1])
    assert {(r.name, r.total, r.unit) for r in read} == {(read[0].name, total, unit)}


# ------------------------------------------------------------------------- the readers


def test_the_scanner_reports_each_range_and_ends_at_the_file(tmp_path, monkeypatch):
    path = _write_table(tmp_path / "t.csv")
    size = path.stat().st_size
    header_bytes = len(path.read_bytes().split(b"\n", 1)[0]) + 1
    monkeypatch.setattr(fastcsv, "PARALLEL_BYTES", 1 << 10)  # parallel, as a large file
    monkeypatch.setattr(fastcsv, "MAX_RANGE_BYTES", 64 << 10)  # ~24 ranges of 64 kB
    scanned = []
    scan = fastcsv.scan
    monkeypatch.setattr(
        load_module.fastcsv, "scan", lambda *a, **k: scanned.append(1) or scan(*a, **k)
    )
    ds, reports = _collect(lambda: load_dataset(path))
    assert scanned, "the scanner did not read the file"
    (read,) = _reads(reports)
    _assert_one_complete_read(read, size - header_bytes)
    assert read[0].name == f"'{path}'"
    ranges = -(-(size - header_bytes) // (64 << 10))
    # One report per range and pass at most (a range may add nothing once rounded), plus
    # the first and the final: coarse, never per row; and at least one per range parsed.
    assert ranges <= len(read) - 2 <= 2 * ranges + 2, (len(read), ranges)
    np.testing.assert_array_equal(ds.X, pd.read_csv(path).to_numpy()[:, :4])


def test_a_scan_that_gives_up_ends_its_read_before_pandas_reads(tmp_path):
    path = tmp_path / "nan.csv"
    path.write_text("a,y\n" + "1.5,0\n" * 5000 + "nan,1\n")  # NaN: pandas' policies
    reports: list[Report] = []
    with reporting_to(reports.append), pytest.raises(Exception, match="missing"):
        load_dataset(path)
    scan, whole = _reads(reports)
    assert scan[-1].done < scan[-1].total  # given up with the file unread
    _assert_one_complete_read(whole, path.stat().st_size)


def test_pandas_reads_a_plain_file_by_path_reporting_its_start_and_end(tmp_path):
    # pandas splits a plain file named by its path across cores, and says nothing of its
    # progress: the read is reported when it starts and when it ends, and the terminal
    # line shows the time so far (see test_a_read_that_reports_nothing_is_drawn_anyway).
    path = _write_table(tmp_path / "quoted.csv", quoted=True)
    frame, reports = _collect(lambda: load_dataset(path))
    (read,) = _reads(reports)
    _assert_one_complete_read(read, path.stat().st_size)
    assert [r.done for r in read] == [0, path.stat().st_size, path.stat().st_size]
    assert frame.X.shape == (ROWS, 4)


def test_a_compressed_file_reports_the_bytes_read_of_it(tmp_path):
    path = _write_table(tmp_path / "quoted.csv.gz", 8 * ROWS, quoted=True)
    size = path.stat().st_size
    frame, reports = _collect(lambda: load_dataset(path))
    (read,) = _reads(reports)
    _assert_one_complete_read(read, size)
    # A decompressor reads 8 kB at a time, through a 1 MB buffer: a report per MB of the
    # ~6 MB file, give or take one, and never one per 8 kB read.
    assert size // (1 << 20) - 1 <= len(read) - 2 <= size // (256 << 10), len(read)
    assert frame.X.shape == (8 * ROWS, 4)


def test_standard_input_reports_its_bytes_as_pandas_reads_them(tmp_path, monkeypatch):
    data = _write_table(tmp_path / "t.csv", 4 * ROWS, quoted=True).read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    frame, reports = _collect(lambda: read_table("-"))
    (read,) = _reads(reports)
    _assert_one_complete_read(read, len(data))
    # pandas reads 256 kB at a time: ~24 reports for the ~6 MB, give or take one; a
    # quarter of that grain would be too fine.
    assert len(data) // (256 << 10) - 1 <= len(read) - 2 <= len(data) // (64 << 10)
    assert read[0].name == "standard input" and len(frame) == 4 * ROWS


def test_the_out_of_core_pass_reports_its_chunks(tmp_path):
    path = _write_table(tmp_path / "t.csv")
    folder = tmp_path / "rows"
    folder.mkdir()
    ds, reports = _collect(lambda: stream_dataset(path, folder, chunk_rows=2000))
    (read,) = _reads(reports)
    _assert_one_complete_read(read, path.stat().st_size)
    assert len(read) - 2 >= 3 and ds.X.shape == (ROWS, 4)


def test_the_out_of_core_pass_of_a_parquet_file_reports_rows(tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "t.parquet"
    pd.read_csv(_write_table(tmp_path / "t.csv")).to_parquet(path, row_group_size=3000)
    folder = tmp_path / "rows"
    folder.mkdir()
    ds, reports = _collect(
        lambda: stream_dataset(path, folder, chunk_rows=5000, file_format="parquet")
    )
    (read,) = _reads(reports)
    _assert_one_complete_read(read, ROWS, unit="rows")
    assert len(read) - 2 >= 2 and ds.X.shape == (ROWS, 4)  # a report per batch read


def test_a_whole_parquet_read_reports_its_start_and_its_rows_at_the_end(tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "t.parquet"
    pd.read_csv(_write_table(tmp_path / "t.csv")).to_parquet(path)
    ds, reports = _collect(lambda: load_dataset(path))
    (read,) = _reads(reports)  # pyarrow decodes on every core and says nothing meanwhile
    assert [(r.done, r.total, r.unit, r.final) for r in read] == [
        (0, None, "rows", False),
        (ROWS, None, "rows", False),
        (ROWS, None, "rows", True),
    ]
    assert ds.X.shape == (ROWS, 4)


@pytest.mark.parametrize("name", ["t.svm", "t.svm.gz"])
def test_a_libsvm_read_reports_bytes(tmp_path, name):
    text = "".join(f"{i % 2} 1:{i * 0.5} 3:{-i}\n" for i in range(60_000))
    path = tmp_path / name
    path.write_bytes(gzip.compress(text.encode()) if name.endswith(".gz") else text.encode())
    ds, reports = _collect(lambda: load_dataset(path))
    (read,) = _reads(reports)
    _assert_one_complete_read(read, path.stat().st_size)
    assert ds.X.shape == (60_000, 3)


def test_without_a_sink_nothing_is_reported(tmp_path):
    path = _write_table(tmp_path / "t.csv")
    seen: list[Report] = []
    with reporting_to(seen.append):
        pass
    load_dataset(path)  # after the block: its sink is no longer installed
    read_table(path)
    assert seen == []
    with progress.track("x", 10) as silent:
        silent.update(5)  # no sink: the shared silent track, no Report is even built
    assert type(silent) is progress._Silent


def test_a_track_never_reports_going_back():
    seen: list[Report] = []
    with reporting_to(seen.append), progress.track("x", 100) as read:
        for done in (10, 40, 30, 40, 100):
            read.update(done)
    assert [r.done for r in seen] == [0, 10, 40, 100, 100]
    assert [r.final for r in seen] == [False] * 4 + [True]


# ------------------------------------------------------------------------- the line


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _screen(text: str) -> str:
    """What a terminal shows on its last line after ``text``: each "\\r" returns to the
    line's start, where later characters overwrite earlier ones."""
    shown: list[str] = []
    column = 0
    for char in text.rsplit("\n", 1)[-1]:
        if char == "\r":
            column = 0
            continue
        shown[column : column + 1] = [char]
        column += 1
    return "".join(shown)


@pytest.fixture
def terminal() -> Iterator[tuple[FakeTerminal, Clock]]:
    yield FakeTerminal(), Clock()


def test_the_line_waits_a_second_then_shows_bytes_rate_and_time_left(terminal):
    tty, clock = terminal
    gigabyte = 10**9
    with read_progress(False, False, stream=tty, clock=clock, tick=None):
        with progress.track("'big.csv'", gigabyte) as read:
            for clock.now, done in ((0.3, 60), (0.6, 120), (0.95, 190)):
                read.update(done * 10**6)
            assert tty.getvalue() == "", "a line within the first second"
            clock.now = 2.0
            read.update(400 * 10**6)
            shown = _screen(tty.getvalue())
            # 400 MB in 2 s: 200 MB/s, and the 600 MB left take 3 s at that rate.
            assert shown == "reading 'big.csv': 400 MB of 1.00 GB (40%), 200 MB/s, 3 s left"
            clock.now = 2.05
            read.update(450 * 10**6)  # within REDRAW_EVERY of the last: not redrawn
            assert _screen(tty.getvalue()) == shown
            clock.now = 3.0
            read.update(900 * 10**6)
            assert _screen(tty.getvalue()).startswith("reading 'big.csv': 900 MB of 1.00 GB")
        assert _screen(tty.getvalue()).strip() == "", "the line is not wiped at the end"
    assert "\n" not in tty.getvalue()


def test_a_read_shorter_than_the_delay_shows_nothing(terminal):
    tty, clock = terminal
    with read_progress(False, False, stream=tty, clock=clock, tick=None):
        with progress.track("'small.csv'", 100) as read:
            for step in range(1, 10):
                clock.now = step * line.DELAY / 10
                read.update(step * 10)
        clock.now = 5.0  # long after: the next read's clock starts at its own start
        with progress.track("'next.csv'", 100) as read:
            clock.now = 5.0 + line.DELAY * 0.9
            read.update(50)
    assert tty.getvalue() == ""


def test_a_real_read_draws_on_a_terminal(tmp_path):
    path = _write_table(tmp_path / "t.csv.gz", 8 * ROWS, quoted=True)  # ~6 reports
    tty = FakeTerminal()
    ticks = itertools.count(0, 0.5)  # each report half a second later: a slow read
    with read_progress(False, False, stream=tty, clock=lambda: next(ticks), tick=None):
        load_dataset(path)
    drawn = tty.getvalue()
    assert "reading " in drawn and "t.csv.gz': " in drawn and "/s" in drawn and " left" in drawn
    assert _screen(drawn).strip() == ""


def test_a_read_that_reports_nothing_is_drawn_anyway(monkeypatch):
    monkeypatch.setattr(line, "DELAY", 0.05)
    tty = FakeTerminal()
    with (
        read_progress(False, False, stream=tty, tick=0.01),
        progress.track("'big.csv'", 1_530_000_000),
    ):
        deadline = time.monotonic() + 10  # the ticker draws within 0.06 s; 10 s at worst
        while "so far" not in tty.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)
        shown = _screen(tty.getvalue())
    assert shown.startswith("reading 'big.csv': ") and shown.endswith(" s so far (1.53 GB in all)")
    assert _screen(tty.getvalue()).strip() == ""


@pytest.mark.parametrize(
    ("quiet", "json", "tty"),
    [(False, False, False), (True, False, True), (False, True, True), (True, True, True)],
)
def test_nothing_is_shown_off_a_terminal_or_when_quiet_or_json(tmp_path, quiet, json, tty):
    path = _write_table(tmp_path / "t.csv", quoted=True)
    out = FakeTerminal() if tty else io.StringIO()
    ticks = itertools.count(0, 10.0)  # every report 10 s after the last
    with read_progress(quiet, json, stream=out, clock=lambda: next(ticks)):
        assert progress._SINK.get() is None  # no sink at all: the reads report to no one
        load_dataset(path)
    assert out.getvalue() == ""


def test_rows_and_unknown_totals_are_described():
    rows = Report("'t.parquet'", 30_000, 120_000, "rows")
    assert line.describe(rows, 2.0) == (
        "reading 't.parquet': 30,000 of 120,000 rows (25%), 15,000 rows/s, 6 s left"
    )
    pipe = Report("'/dev/fd/63'", 5 * 10**6, None, "bytes")
    assert line.describe(pipe, 2.0) == "reading '/dev/fd/63': 5.00 MB, 2.50 MB/s"
    unmeasured = Report("'t.csv'", 0, 2 * 10**9, "bytes")
    assert line.describe(unmeasured, 75) == "reading 't.csv': 1 min 15 s so far (2.00 GB in all)"
    long = Report("'" + "x" * 200 + ".csv'", 10**6, 10**7, "bytes")
    assert len(line.describe(long, 1.0, width=79)) <= 79


def test_times_left_read_as_minutes_and_hours():
    assert [line._duration(s) for s in (0.3, 7.4, 125, 3840)] == [
        "<1 s",
        "7 s",
        "2 min 05 s",
        "1 h 04 min",
    ]


@pytest.mark.parametrize("module", ["linfit/cli/progress.py", "linfit/data/progress.py"])
def test_the_progress_modules_import_nothing_heavy(module):
    # The CLI imports the line at start-up, where every import counts; run alone (the
    # packages' __init__ files are not these modules' business), a module loads only the
    # standard library.
    script = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('progress', {module!r})\n"
        "sys.modules['progress'] = module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "heavy = {'numpy', 'pandas', 'scipy', 'sklearn', 'rich', 'linfit'}\n"
        "print(sorted(heavy & {name.split('.')[0] for name in sys.modules}))\n"
    )
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
