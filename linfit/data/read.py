"""Reading a delimited text table: the source (file or stdin), delimiter, pandas and its errors.

Every user-fixable failure of reading (path, encoding, delimiter, ragged rows, empty file,
duplicate header names) is raised as a one-line :class:`~linfit.errors.DataError`.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import stat
import sys
import warnings
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from linfit.data import progress
from linfit.data.messages import MAX_LISTED, one_line
from linfit.errors import DataError, OptionError, quote_path

if TYPE_CHECKING:
    # Annotations only: each function that reads through pandas imports it, so the
    # compiled scanner's path (which takes Source and the helpers here) never does.
    import pandas as pd

_TAB_EXTENSIONS = {".tsv", ".tab"}
COMPRESSION_EXTENSIONS = {".gz", ".bz2", ".xz", ".zst", ".zip"}
# The read buffer of a compressed file read with progress (see tracked_file).
COMPRESSED_BUFFER_BYTES = 1 << 20
# How every read of a delimited table asks pandas: the first row is the header, no column
# is an index, UTF-8 text, the C parser.
_PANDAS_OPTIONS = {"header": 0, "index_col": False, "encoding": "utf-8", "engine": "c"}


class Source:
    """A file path or standard input, readable more than once (stdin is buffered)."""

    def __init__(self, path: str | Path) -> None:
        self.is_stdin = str(path) == "-"
        if self.is_stdin:
            self.name = "standard input"
            stream = getattr(sys.stdin, "buffer", sys.stdin)
            if stream is None:
                raise DataError("no standard input to read data from; give a file path, not '-'")
            data = stream.read()
            self._data = data.encode("utf-8") if isinstance(data, str) else data
            self.path: Path | None = None
        else:
            self.path = Path(path)
            self.name = quote_path(path)
            if not self.path.exists():
                raise DataError(f"data file {self.name} not found; check the path")
            if self.path.is_dir():
                raise DataError(f"{self.name} is a directory, not a data file; give a CSV/TSV file")

    def handle(self) -> str | io.BytesIO:
        return io.BytesIO(self._data) if self.is_stdin else str(self.path)


def normalize_sep(sep: str | None, path: str | Path) -> str:
    if sep is None:
        if str(path) == "-":
            return ","
        suffixes = [s.lower() for s in Path(path).suffixes]
        if suffixes and suffixes[-1] in COMPRESSION_EXTENSIONS:
            suffixes.pop()
        return "\t" if suffixes and suffixes[-1] in _TAB_EXTENSIONS else ","
    if sep.lower() in {"tab", "\\t"}:
        return "\t"
    if len(sep) != 1 or sep in {'"', "\n", "\r"}:
        raise OptionError(
            f"`sep` must be a single character such as ',' ';' '|' or 'tab', got {sep!r}"
        )
    return sep


def read_csv(source: Source, sep: str, *, tracked: bool = False, **kwargs: object) -> pd.DataFrame:
    """pd.read_csv with every user-fixable failure turned into a one-line DataError; a
    ``tracked`` read (one that reads the whole file, for a column say) reports its
    progress (see :func:`tracked_file`)."""
    import pandas as pd  # on first use: a plain numeric CSV is read without it

    options = {**_PANDAS_OPTIONS, "sep": sep, **kwargs}
    with read_errors(source.name):
        if not tracked:
            return pd.read_csv(source.handle(), **options)
        with tracked_file(source) as (handle, compression):
            return pd.read_csv(handle, compression=compression, **options)


def read_chunks(source: Source, sep: str, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """The table of ``source`` as DataFrames of at most ``chunk_rows`` rows, in file order,
    with the same one-line errors as a whole read (raised when the bad chunk is reached).
    Its progress is reported as the bytes read of the file (see :func:`tracked_file`)."""
    import pandas as pd  # on first use: a plain numeric CSV is read without it

    with contextlib.ExitStack() as opened:
        with read_errors(source.name):
            handle, compression = opened.enter_context(tracked_file(source))
            reader = pd.read_csv(
                handle, sep=sep, chunksize=chunk_rows, compression=compression, **_PANDAS_OPTIONS
            )
        with reader:
            while True:
                with read_errors(source.name):  # parsing happens here, a chunk at a time
                    chunk = next(reader, None)
                if chunk is None:
                    return
                yield chunk


@contextlib.contextmanager
def tracked_file(
    source: Source, buffer_size: int = io.DEFAULT_BUFFER_SIZE
) -> Iterator[tuple[io.BufferedReader, str | None]]:
    """``source`` opened for one read whose progress is reported (:mod:`linfit.data.progress`)
    in bytes of the file as stored (a compressed file's compressed bytes), out of its size
    (unknown for a pipe), with the compression pandas would infer from its name.

    pandas opens a path as a binary file and parses what it reads from it; given this
    reader instead, it reads the same bytes (the ``compression`` passed on) and tells the
    same errors, and each read it makes (256 kB) is reported on its way. Opening the
    file raises what ``open`` raises: the caller words it.
    """
    # pandas' own rule for which compression a name implies: whoever reads the stream
    # (pandas, or scikit-learn for a LIBSVM file) then reads what a read by name would.
    from pandas.io.common import infer_compression

    if source.path is None:
        stream: io.BufferedIOBase = io.BytesIO(source._data)
        total: int | None = len(source._data)
        compression = None  # pandas infers none for a buffer either
    else:
        stream = open(source.path, "rb")  # noqa: SIM115 (closed below)
        status = os.fstat(stream.fileno())
        total = status.st_size if stat.S_ISREG(status.st_mode) else None
        compression = infer_compression(str(source.path), "infer")
    if compression is not None:
        # A decompressor reads 8 kB at a time: a larger buffer keeps the reports coarse.
        buffer_size = max(buffer_size, COMPRESSED_BUFFER_BYTES)
    with stream, progress.track(source.name, total) as read:
        yield progress.counted(stream, read, buffer_size), compression  # type: ignore[arg-type]


@contextlib.contextmanager
def read_errors(name: str) -> Iterator[None]:
    """Turn pandas' and the OS's failures while reading ``name`` into one-line DataErrors."""
    import pandas as pd  # its exception classes: only a read through pandas is wrapped here

    try:
        with warnings.catch_warnings():
            # With index_col=False pandas only *warns* (and drops data) when the first data
            # row has more fields than the header; that is a malformed file, so make it fatal.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            # Chunked parsing (pandas' default) reads a numeric table ~1.8x faster than
            # low_memory=False (measured); a column that mixes numbers and text across
            # chunks then arrives as objects, which the numeric check below rejects by name.
            warnings.simplefilter("ignore", pd.errors.DtypeWarning)
            yield
    except FileNotFoundError:
        raise DataError(f"data file {name} not found; check the path") from None
    except IsADirectoryError:
        raise DataError(f"{name} is a directory, not a data file; give a CSV/TSV file") from None
    except PermissionError:
        raise DataError(
            f"cannot read {name}: permission denied; check the file's permissions"
        ) from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{name} is empty; expected a header row followed by data rows") from None
    except pd.errors.ParserWarning:
        raise DataError(
            f"{name}: data rows have more fields than the header; check the delimiter "
            "(use `sep`) or remove trailing delimiters"
        ) from None
    except UnicodeDecodeError as exc:
        bad = exc.object[exc.start : exc.start + 1]
        byte = f" (byte 0x{bad[0]:02x})" if isinstance(bad, bytes) and bad else ""
        raise DataError(
            f"{name} is not UTF-8 text{byte}; re-encode it as UTF-8, "
            "e.g. iconv -f latin1 -t utf-8 FILE > FILE.utf8.csv"
        ) from None
    except pd.errors.ParserError as exc:
        msg = one_line(str(exc))
        m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", msg)
        if m:
            expected, line, saw = m.groups()
            raise DataError(
                f"{name}: line {line} has {saw} fields but the header has {expected}; "
                "check the delimiter (use `sep`) and quoting"
            ) from None
        raise DataError(
            f"cannot parse {name} as a table ({msg}); check the delimiter (use `sep`) and quoting"
        ) from None
    except (OSError, EOFError, zlib.error, ValueError) as exc:
        # Corrupt compressed input, I/O errors and the odd pandas ValueError on garbage.
        raise DataError(f"cannot read {name}: {one_line(str(exc)) or type(exc).__name__}") from None


def check_duplicates(frame: pd.DataFrame, source: Source, sep: str) -> None:
    columns = [str(c) for c in frame.columns]
    present = set(columns)
    # pandas silently renames a repeated 'a' to 'a.1'; only then is the raw header worth reading.
    mangled = any(
        (m := re.fullmatch(r"(.*)\.\d+", c)) is not None and m.group(1) in present for c in columns
    )
    if not mangled:
        return
    raw = read_csv(source, sep, header=None, nrows=1, dtype=str, keep_default_na=False)
    names = [str(v) for v in raw.iloc[0].tolist()] if len(raw) else []
    if names:
        names[0] = names[0].removeprefix("\ufeff")
    dups = [n for n, k in Counter(names).items() if k > 1]
    if dups:
        listed = ", ".join(repr(d) for d in dups[:MAX_LISTED])
        raise DataError(
            f"{source.name}: duplicate column name(s) {listed} in the header; "
            "rename the columns so that each name is unique"
        )


def read_text_column(source: Source, sep: str, column: str) -> pd.Series:
    """Column ``column`` of ``source`` read again as the raw text of its cells (NaN: empty)."""
    return read_csv(source, sep, tracked=True, usecols=[column], dtype=str)[column]


def _read_whole(source: Source, sep: str) -> pd.DataFrame:
    """The whole table of ``source`` as pandas reads it, its progress reported.

    pandas reads a plain (uncompressed) file named by its path on several cores where it
    can (pandas 3.1 splits a file of 5 MB or more into byte ranges), and through a file
    object on one: 0.82 s against 1.02 s for a 305 MB numeric CSV on 2 cores (medians of
    15 interleaved runs, each in a fresh process). So such a file goes to pandas by its
    path, and only the read's start and end are reported; any other source is read
    through :func:`tracked_file`, which reports its bytes as they are read.
    """
    import pandas as pd  # on first use: a plain numeric CSV is read without it
    from pandas.io.common import infer_compression

    options = {**_PANDAS_OPTIONS, "sep": sep}
    path = source.path
    with read_errors(source.name):
        if path is not None and infer_compression(str(path), "infer") is None:
            status = os.stat(path)
            if stat.S_ISREG(status.st_mode):
                with progress.track(source.name, status.st_size) as read:
                    frame = pd.read_csv(source.handle(), **options)
                    read.update(status.st_size)
                    return frame
        with tracked_file(source) as (handle, compression):
            return pd.read_csv(handle, compression=compression, **options)


def read_delimited(source: Source, sep: str) -> pd.DataFrame:
    frame = _read_whole(source, sep)
    if not all(isinstance(c, str) for c in frame.columns):
        frame.columns = [str(c) for c in frame.columns]
    check_duplicates(frame, source, sep)
    if len(frame) == 0:
        raise DataError(f"{source.name} has a header but no data rows; add rows of data")
    return frame


def read_table(path: str | Path, *, sep: str | None = None) -> pd.DataFrame:
    """Read a delimited text table whose first row is the header.

    Args:
        path: a file path, or ``"-"`` for standard input. ``.gz``/``.bz2``/``.xz``/``.zst``
            files are decompressed.
        sep: one-character delimiter (``"tab"`` or ``"\\t"`` mean a tab). Default: tab for
            ``.tsv``/``.tab`` files, comma otherwise.

    Returns:
        A DataFrame with (n_rows >= 1) rows and one column per header name; a UTF-8 BOM is
        stripped from the first name. Cells are parsed by pandas (numbers, or str/object).

    Raises:
        DataError: missing file, directory, empty file, header without rows, ragged rows,
            non-UTF-8 bytes, duplicate column names.
        OptionError: an unusable ``sep``.
    """
    sep_char = normalize_sep(sep, path)
    return read_delimited(Source(path), sep_char)
