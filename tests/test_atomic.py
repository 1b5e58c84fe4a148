"""linfit.storage.atomic: a reader sees the old file or the whole new one, never a mess."""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

import linfit.storage.atomic as atomic_module
from linfit.errors import LinfitError, OptionError, OutputError
from linfit.storage.atomic import atomic_open, atomic_write, check_target


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


@pytest.fixture
def umask() -> Iterator[None]:
    old = os.umask(0o027)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def existing(tmp_path: Path) -> Path:
    path = tmp_path / "out.csv"
    path.write_bytes(b"old content\n")
    return path


# --------------------------------------------------------------------------- writing


def test_binary_and_text_writes(tmp_path: Path) -> None:
    atomic_write(tmp_path / "b.bin", lambda fh: fh.write(b"\x00\xffbytes"), binary=True)
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\xffbytes"
    # Text is UTF-8 with no newline translation: what is written is what is stored.
    atomic_write(tmp_path / "t.csv", lambda fh: fh.write("é,x\r\ny\n"), binary=False)
    assert (tmp_path / "t.csv").read_bytes() == "é,x\r\ny\n".encode()
    assert names(tmp_path) == ["b.bin", "t.csv"]


def test_replaces_existing_file(existing: Path) -> None:
    atomic_write(existing, lambda fh: fh.write("new\n"), binary=False)
    assert existing.read_text() == "new\n"
    assert names(existing.parent) == ["out.csv"]


def test_context_manager_form(tmp_path: Path) -> None:
    path = tmp_path / "report.md"
    with atomic_open(path, binary=False) as fh:
        fh.write("# title\n")
        assert not path.exists()  # nothing visible until the block ends
    assert path.read_text() == "# title\n"


def test_relative_path_in_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    atomic_write("plain.txt", lambda fh: fh.write("x"), binary=False)
    assert (tmp_path / "plain.txt").read_text() == "x"


def test_temporary_file_is_unique_and_in_the_target_folder(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    seen: list[list[str]] = []

    def write(fh: IO[Any]) -> None:
        seen.append([n for n in names(tmp_path) if n != "out.csv"])
        fh.write("x")

    # Two writers of one target at once: each has its own temporary file; the last wins.
    with atomic_open(path, binary=False) as first:
        atomic_write(path, write, binary=False)
        first.write("first")
    assert path.read_text() == "first"
    (inner,) = seen
    assert len(inner) == 2 and len(set(inner)) == 2
    for name in inner:
        assert name.startswith(".out.csv.") and name.endswith(".tmp") and name != ".out.csv.tmp"
    assert names(tmp_path) == ["out.csv"]


def test_long_file_name(tmp_path: Path) -> None:
    path = tmp_path / ("n" * 250 + ".csv")  # near NAME_MAX: the temporary must still fit
    atomic_write(path, lambda fh: fh.write("x"), binary=False)
    assert path.read_text() == "x" and names(tmp_path) == [path.name]


def test_file_and_folder_are_synced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[bool] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    atomic_write(tmp_path / "f", lambda fh: fh.write(b"x"), binary=True)
    assert synced[0] is False  # the data, before the rename
    assert True in synced[1:]  # then the folder, after it


# --------------------------------------------------------------------------- permissions


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
@pytest.mark.usefixtures("umask")
def test_new_file_gets_umask_permissions(tmp_path: Path) -> None:
    path = tmp_path / "new.csv"
    atomic_write(path, lambda fh: fh.write("x"), binary=False)
    # Not mkstemp's 0o600: the mode open() would have given, 0o666 & ~0o027.
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
@pytest.mark.usefixtures("umask")
def test_umask_without_proc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_proc(*args: object, **kwargs: object) -> IO[Any]:
        raise FileNotFoundError(errno.ENOENT, "no /proc here")

    monkeypatch.setattr(atomic_module, "open", no_proc, raising=False)
    atomic_write(tmp_path / "f", lambda fh: fh.write(b"x"), binary=True)
    assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == 0o640
    assert os.umask(0o027) == 0o027  # the umask itself is left as it was


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
@pytest.mark.parametrize("mode", [0o600, 0o644, 0o755])
def test_replaced_file_keeps_its_permissions(existing: Path, mode: int) -> None:
    os.chmod(existing, mode)
    atomic_write(existing, lambda fh: fh.write("new"), binary=False)
    assert existing.read_text() == "new"
    assert stat.S_IMODE(existing.stat().st_mode) == mode


# --------------------------------------------------------------------------- failures


def test_failing_writer_keeps_old_content(existing: Path) -> None:
    def write(fh: IO[Any]) -> None:
        fh.write("half of the new")
        fh.flush()
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        atomic_write(existing, write, binary=False)
    assert existing.read_bytes() == b"old content\n"
    assert names(existing.parent) == ["out.csv"]


def test_interrupt_keeps_old_content(existing: Path) -> None:
    with pytest.raises(KeyboardInterrupt), atomic_open(existing, binary=True) as fh:
        fh.write(b"partial")
        raise KeyboardInterrupt
    assert existing.read_bytes() == b"old content\n"
    assert names(existing.parent) == ["out.csv"]


def test_disk_full_is_an_output_error(existing: Path) -> None:
    def write(fh: IO[Any]) -> None:
        fh.write(b"partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(OutputError) as exc:
        atomic_write(existing, write, binary=True, what="predictions file")
    message = one_line(exc)
    assert f"'{existing}'" in message and os.strerror(errno.ENOSPC) in message
    assert "predictions file" in message and "disk space" in message
    assert isinstance(exc.value, LinfitError)
    assert existing.read_bytes() == b"old content\n"
    assert names(existing.parent) == ["out.csv"]


def test_failed_rename_is_an_output_error(existing: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def read_only(src: object, dst: object) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(os, "replace", read_only)
    with pytest.raises(OutputError) as exc:
        atomic_write(existing, lambda fh: fh.write("new"), binary=False)
    message = one_line(exc)
    assert os.strerror(errno.EROFS) in message and "read-only" in message
    assert existing.read_bytes() == b"old content\n"
    assert names(existing.parent) == ["out.csv"]


def test_unwritable_folder_is_an_output_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Simulated, so the test means the same when run as root (which chmod does not stop).
    def denied(*args: object, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(OutputError) as exc:
        atomic_write(tmp_path / "out.csv", lambda fh: fh.write("x"), binary=False)
    message = one_line(exc)
    assert f"'{tmp_path / 'out.csv'}'" in message and "Permission denied" in message
    assert "permissions" in message
    assert names(tmp_path) == []


# --------------------------------------------------------------------------- refused targets


def test_missing_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(OptionError) as exc:
        atomic_write(tmp_path / "no" / "such" / "f.csv", lambda fh: None, binary=False)
    message = one_line(exc)
    assert f"folder '{tmp_path / 'no' / 'such'}' does not exist" in message
    assert names(tmp_path) == []


def test_parent_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(OptionError, match=r"is not a folder"):
        atomic_write(tmp_path / "file" / "f.csv", lambda fh: None, binary=False)


def test_directory_target_is_refused(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    with pytest.raises(OptionError) as exc:
        atomic_write(tmp_path / "d", lambda fh: fh.write("x"), binary=False)
    assert "is a directory" in one_line(exc)
    assert (tmp_path / "d").is_dir() and names(tmp_path) == ["d"]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links")
def test_symlink_target_is_refused_and_left_alone(existing: Path) -> None:
    link = existing.parent / "link.csv"
    link.symlink_to(existing)
    with pytest.raises(OptionError) as exc:
        atomic_write(link, lambda fh: fh.write("new"), binary=False)
    assert "symbolic link" in one_line(exc)
    assert link.is_symlink() and os.readlink(link) == str(existing)
    assert existing.read_bytes() == b"old content\n"
    assert names(existing.parent) == ["link.csv", "out.csv"]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links")
def test_dangling_symlink_is_refused(tmp_path: Path) -> None:
    link = tmp_path / "link.csv"
    link.symlink_to(tmp_path / "nowhere.csv")
    with pytest.raises(OptionError, match=r"symbolic link"):
        atomic_write(link, lambda fh: fh.write("new"), binary=False)
    assert link.is_symlink() and not (tmp_path / "nowhere.csv").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_fifo_target_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(OptionError, match=r"not a regular file"):
        atomic_write(fifo, lambda fh: fh.write("x"), binary=False)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
def test_device_target_is_refused() -> None:
    # Never replaced, never written: linfit refuses before creating anything in /dev.
    with pytest.raises(OptionError, match=r"'/dev/full'.*not a regular file"):
        atomic_write("/dev/full", lambda fh: fh.write("x"), binary=False)
    assert stat.S_ISCHR(os.lstat("/dev/full").st_mode)


def test_check_target_refuses_early(tmp_path: Path) -> None:
    check_target(tmp_path / "new.linfit")  # absent: fine
    (tmp_path / "d").mkdir()
    with pytest.raises(OptionError, match=r"model file .* is a directory"):
        check_target(tmp_path / "d", what="model file")
    with pytest.raises(OptionError, match=r"does not exist"):
        check_target(tmp_path / "no" / "m.linfit")
    assert names(tmp_path) == ["d"]
