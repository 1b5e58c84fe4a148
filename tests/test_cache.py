"""The parsed-binary cache: a hit returns the same data; any change to file or options
misses; a damaged entry is reported, missed and rewritten; a cache that cannot be written
is skipped with a warning."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import warnings

import numpy as np
import pytest
from cache_helpers import assert_damage_is_one_reported_miss_and_a_rewrite
from cli_helpers import IRIS, invoke
from file_helpers import mount_tmpfs

from linfit.data import load_dataset
from linfit.errors import CacheWarning
from linfit.storage import cache, cache_entry, cache_writer


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("LINFIT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _load(path, **options):
    return cache.cached(path, options, lambda: load_dataset(path, **options))


def _same(a, b):
    np.testing.assert_array_equal(a.X, b.X)
    assert a.X.dtype == b.X.dtype and a.X.flags.c_contiguous and b.X.flags.c_contiguous
    np.testing.assert_array_equal(a.y, b.y)
    assert a.y.dtype == b.y.dtype
    assert (a.feature_names, a.target_name) == (b.feature_names, b.target_name)


def test_a_hit_returns_exactly_what_the_parse_returned(folder):
    first = _load(IRIS)  # string labels: object dtype
    assert len(list(folder.iterdir())) == 1
    calls = []
    hit = cache.cached(IRIS, {}, lambda: calls.append(1))
    assert calls == []  # not parsed again
    _same(first, hit)
    _same(first, load_dataset(IRIS))


def test_a_changed_file_or_other_options_miss(folder, tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b,target\n1,2,3\n4,5,6\n")
    first = _load(path)
    path.write_text("a,b,target\n1,2,3\n4,5,7\n")
    os.utime(path, ns=(0, 10**9))  # a new modification time
    assert _load(path).y[-1] == 7 != first.y[-1]
    _load(path, target="a")
    assert len(list(folder.iterdir())) == 3


def test_a_damaged_entry_is_replaced(folder, tmp_path):
    _load(IRIS)
    (entry,) = folder.iterdir()
    (entry / "X.bin").write_bytes(b"truncated")
    with pytest.warns(CacheWarning, match="X.bin holds 9 bytes"):
        _same(_load(IRIS), load_dataset(IRIS))
    assert (entry / "X.bin").stat().st_size == 150 * 4 * 8


def test_a_rewrite_that_restores_the_modification_time_misses(folder, tmp_path):
    """What ``cp -p``, ``rsync -t`` or ``tar x`` leave: same size, same inode, the old
    modification time put back; the change time moved, and the entry misses."""
    path = tmp_path / "d.csv"
    path.write_text("a,b,target\n1,2,3\n4,5,6\n")
    _load(path)
    before = os.stat(path)
    path.write_text("a,b,target\n1,2,3\n4,5,7\n")  # same size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (
        before.st_size, before.st_mtime_ns, before.st_ino,
    )  # fmt: skip
    assert _load(path).y.tolist() == [3, 7]


def test_a_file_copied_over_by_cp_p_misses(folder, tmp_path):
    """The same through the real ``cp -p``: another file of the same size and time."""
    path, other = tmp_path / "d.csv", tmp_path / "e.csv"
    path.write_text("a,b,target\n1,2,3\n4,5,6\n")
    other.write_text("a,b,target\n1,2,3\n4,5,8\n")
    os.utime(other, ns=(0, os.stat(path).st_mtime_ns))
    _load(path)
    subprocess.run(["cp", "-p", str(other), str(path)], check=True)
    assert _load(path).y.tolist() == [3, 8]


def test_a_racy_entry_is_served_only_while_the_file_holds_what_was_parsed(
    folder, tmp_path, monkeypatch
):
    """A file changed just before its parse could change again within its timestamps'
    resolution, its stat unchanged: its entry records the file's SHA-256, and a read of
    a file that no longer matches it parses the file again."""
    path = tmp_path / "d.csv"
    path.write_text("a,b,target\n1,2,3\n4,5,6\n")
    _load(path)  # written just now: racy
    (entry,) = folder.iterdir()
    record = json.loads((entry / "meta.json").read_text())
    assert record["source"]["sha256"] is not None
    state = cache.file_state(path)
    path.write_text("a,b,target\n1,2,3\n4,5,9\n")
    monkeypatch.setattr(cache, "file_state", lambda p: dict(state))  # the key: unmoved
    assert _load(path).y.tolist() == [3, 9]


def test_a_racy_entry_is_trusted_by_its_stat_once_the_file_is_old(folder, tmp_path, monkeypatch):
    path = tmp_path / "d.csv"
    path.write_text("a,b,target\n1,2,3\n4,5,6\n")
    _load(path)
    (entry,) = folder.iterdir()
    monkeypatch.setattr(cache_entry, "RACY_NS", 0)  # the file is now older than the window
    calls = []
    assert cache.cached(path, {}, lambda: calls.append(1)).y.tolist() == [3, 6]
    assert calls == []
    assert json.loads((entry / "meta.json").read_text())["source"]["sha256"] is None
    assert cache.cached(path, {}, lambda: calls.append(1)).y.tolist() == [3, 6]


def _entries(folder):
    return list(folder.iterdir()) if folder.exists() else []


def test_a_file_whose_stat_changes_while_it_is_parsed_is_not_cached(folder, tmp_path, monkeypatch):
    path = tmp_path / "d.csv"
    path.write_text("a,b,target\n1,2,3\n4,5,6\n")
    monkeypatch.setattr(cache_entry, "RACY_NS", 0)  # not racy: its stat alone decides

    def parse():
        dataset = load_dataset(path)
        path.write_text("a,b,target\n1,2,3\n4,5,6\n7,8,9\n")
        return dataset

    assert cache.cached(path, {}, parse).y.tolist() == [3, 6]
    assert _entries(folder) == []


def test_a_racy_file_whose_bytes_change_unseen_while_it_is_parsed_is_not_cached(
    folder, tmp_path, monkeypatch
):
    path = tmp_path / "d.csv"
    path.write_text("a,b,target\n1,2,3\n4,5,6\n")
    state = cache.file_state(path)
    monkeypatch.setattr(cache, "file_state", lambda p: dict(state))  # timestamps unmoved

    def parse():
        dataset = load_dataset(path)
        path.write_text("a,b,target\n1,2,3\n4,5,9\n")
        return dataset

    assert cache.cached(path, {}, parse).y.tolist() == [3, 6]
    assert _entries(folder) == []


def test_a_file_racy_when_its_parse_starts_but_not_when_it_ends_is_recorded_by_its_stat(
    folder, tmp_path, monkeypatch
):
    """A long parse of a file written just before: its digest, checked after the parse,
    is not recorded, so no read hashes the file again."""
    path = tmp_path / "d.csv"
    path.write_text("a,b,target\n1,2,3\n4,5,6\n")

    def parse():
        monkeypatch.setattr(cache_entry, "RACY_NS", 0)  # the window passes meanwhile
        return load_dataset(path)

    cache.cached(path, {}, parse)
    (entry,) = folder.iterdir()
    assert _meta(entry)["source"]["sha256"] is None
    monkeypatch.setattr(cache_entry, "file_digest", lambda p: pytest.fail("hashed again"))
    assert cache.cached(path, {}, lambda: pytest.fail("parsed again")).y.tolist() == [3, 6]


def _meta(entry):
    return json.loads((entry / "meta.json").read_text())


def _damage_meta(entry, field, value):
    meta = _meta(entry)
    meta[field] = value
    (entry / "meta.json").write_text(json.dumps(meta))  # the old checksum stays


def _flip_last_byte(path):
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


DAMAGE = {
    "X.bin truncated": (lambda e: (e / "X.bin").write_bytes(b"x" * 8), "X.bin holds 8 bytes"),
    "X.bin's last byte": (lambda e: _flip_last_byte(e / "X.bin"), "ends of X.bin"),
    "y.npy's last byte": (lambda e: _flip_last_byte(e / "y.npy"), "y.npy does not match"),
    "y.npy removed": (lambda e: (e / "y.npy").unlink(), "missing"),
    "meta.json edited": (lambda e: _damage_meta(e, "shape", [75, 8]), "checksum"),
    "meta.json not JSON": (lambda e: (e / "meta.json").write_bytes(b"{\xff"), "not JSON"),
    "meta.json removed": (lambda e: (e / "meta.json").unlink(), "missing"),
    "meta.json empty": (lambda e: (e / "meta.json").write_bytes(b""), "not JSON"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_each_kind_of_damage_is_a_reported_miss_and_rewritten(folder, damage):
    _load(IRIS)
    (entry,) = folder.iterdir()
    harm, said = DAMAGE[damage]
    harm(entry)
    assert_damage_is_one_reported_miss_and_a_rewrite(folder, entry, IRIS, said, _same)


def test_a_damaged_entry_is_reported_by_the_command_in_one_line(folder, tmp_path):
    invoke(["train", IRIS, "--quiet", "--out", tmp_path / "m.linfit"])
    (entry,) = folder.iterdir()
    _flip_last_byte(entry / "y.npy")
    result = invoke(["train", IRIS, "--quiet", "--out", tmp_path / "m.linfit"])
    (line,) = result.stderr.splitlines()
    assert line.startswith("warning: the cached copy of") and "y.npy" in line


def _full(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("where", ["write_meta", "_sync"])
def test_a_full_disk_skips_the_entry_with_a_warning(folder, monkeypatch, where):
    monkeypatch.setattr(cache_writer, where, _full)
    with pytest.warns(CacheWarning, match="No space left on device") as caught:
        _same(_load(IRIS), load_dataset(IRIS))
    assert len(caught) == 1
    assert list(folder.iterdir()) == []  # no entry, no staging folder left


def test_a_full_disk_while_streaming_skips_the_cache(folder, tmp_path, monkeypatch):
    """Out of core, the matrix is parsed straight into the cache: a disk that fills up
    meanwhile leaves nothing there, warns, and the read goes on in a folder of its own."""
    from linfit.data import rowfile
    from linfit.data.source import ReadOptions, data_on_disk

    real = rowfile.RowWriter.append
    calls = []

    def append(self, block):
        if str(folder) in str(self.path):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        calls.append(1)
        return real(self, block)

    monkeypatch.setattr(rowfile.RowWriter, "append", append)
    with pytest.warns(CacheWarning, match="No space left on device"):
        ds = data_on_disk(IRIS, ReadOptions(), chunk_rows=40)
    assert calls and ds.X.shape == (150, 4)
    assert str(folder) not in str(ds.X.path)
    assert list(folder.iterdir()) == []


def test_an_out_of_core_read_that_loses_the_race_to_write_serves_the_winners_entry(
    folder, monkeypatch
):
    """Another process writes the entry while this one parses into its staging folder:
    this one's rename fails, and it reads the other's entry rather than parsing again."""
    from linfit.data import source
    from linfit.data.source import ReadOptions, data_on_disk

    parses = []
    real = source.stream_dataset

    def stream_dataset(data, out, **options):
        parses.append(out)
        dataset = real(data, out, **options)
        if len(parses) == 1:  # the other process, done first
            data_on_disk(IRIS, ReadOptions(), chunk_rows=40)
        return dataset

    monkeypatch.setattr(source, "stream_dataset", stream_dataset)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # losing the race is no failure
        ds = data_on_disk(IRIS, ReadOptions(), chunk_rows=40)
    assert len(parses) == 2  # each process's parse, no third into a folder of its own
    (entry,) = folder.iterdir()
    assert ds.X.path == entry / "X.bin"
    whole = load_dataset(IRIS)
    np.testing.assert_array_equal(ds.X[0 : ds.X.shape[0]], whole.X)
    np.testing.assert_array_equal(ds.y, whole.y)


@pytest.mark.parametrize(
    ("options", "said"),
    [("size=16k", "No space left on device"), ("size=1m,ro", "Read-only file system")],
)
def test_a_real_full_or_read_only_cache_folder(tmp_path, monkeypatch, options, said):
    """The same on a real file system: a 16 kB tmpfs (the matrix needs 4.8 kB, iris' labels
    more) and a read-only one, where the test runs as root and may mount."""
    disk = tmp_path / "disk"
    if not mount_tmpfs(disk, options):
        pytest.skip("needs root and mount to make a small tmpfs")
    try:
        monkeypatch.setenv("LINFIT_CACHE_DIR", str(disk / "cache"))
        if "ro" not in options:
            (disk / "filler").write_bytes(b"\0" * 12_000)
        with pytest.warns(CacheWarning, match=said):
            _same(_load(IRIS), load_dataset(IRIS))
        leftovers = [p.name for p in disk.iterdir() if p.name != "filler"]
        assert leftovers in ([], ["cache"])
        assert not (disk / "cache").exists() or list((disk / "cache").iterdir()) == []
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def test_an_unwritable_cache_is_skipped(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("LINFIT_CACHE_DIR", str(blocker / "cache"))  # under a file: no mkdir
    with pytest.warns(CacheWarning, match="not cached"):
        _same(_load(IRIS), load_dataset(IRIS))


def test_standard_input_is_not_cached(folder, tmp_path, monkeypatch):
    """``-`` is standard input even where a file of that name is in the folder."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "-").write_text("a,b,target\n1,2,3\n4,5,6\n")
    calls = []
    cache.cached("-", {}, lambda: calls.append(1) or load_dataset(tmp_path / "-"))
    assert calls == [1] and _entries(folder) == []


def test_no_cache_flag_writes_no_entry(folder, tmp_path):
    invoke(["train", IRIS, "--no-cache", "--quiet", "--out", tmp_path / "m.linfit"])
    assert not folder.exists()
    invoke(["train", IRIS, "--quiet", "--out", tmp_path / "m.linfit"])
    assert len(list(folder.iterdir())) == 1


def test_solve_ls_keeps_an_entry_with_and_without_contrasts(folder, tmp_path):
    """solve-ls with an intercept and no penalty (its defaults) encodes categorical columns
    against reference levels only under --encode onehot, the one read that skips the
    cache: a table of numbers read as it is keeps its entry, which a train then hits."""
    path = tmp_path / "n.csv"
    path.write_text("a,b,target\n" + "".join(f"{i},{i * i % 7},{i % 5}\n" for i in range(30)))
    invoke(["solve-ls", path, "--quiet"])
    (entry,) = folder.iterdir()
    invoke(["train", path, "--model", "least-squares", "--quiet", "--out", tmp_path / "m.linfit"])
    assert list(folder.iterdir()) == [entry]
    invoke(["solve-ls", path, "--encode", "onehot", "--quiet"])
    assert list(folder.iterdir()) == [entry]  # the contrasts' read: parsed, not kept


def test_a_whole_read_and_an_out_of_core_read_share_one_entry(folder, tmp_path):
    """The key holds the separator as resolved (',' for a .csv), whichever read made it:
    after a whole read, the out-of-core read of the same file parses nothing."""
    from linfit.data.source import ReadOptions, data_on_disk, load_data

    path = tmp_path / "d.csv"
    path.write_text("a,b,target\n1,2,3\n4,5,6\n7,8,9\n")
    whole = load_data(path, ReadOptions())
    (entry,) = folder.iterdir()
    on_disk = data_on_disk(path, ReadOptions(), chunk_rows=2)
    assert list(folder.iterdir()) == [entry]
    np.testing.assert_array_equal(np.asarray(on_disk.X[0:3]), whole.X)


def test_sample_weights_are_cached_and_checked(folder, tmp_path):
    """A read with ``weights``: the entry keeps them (w.npy), a hit returns them bit for
    bit without parsing, and a damaged w.npy is a reported miss, parsed and rewritten."""
    path = tmp_path / "w.csv"
    path.write_text("a,b,w,target\n" + "".join(f"{i},{i % 3},{0.5 + i % 4},{i % 2}\n"
                                               for i in range(40)))  # fmt: skip
    first = _load(path, weights="w")
    (entry,) = folder.iterdir()
    hit = cache.cached(path, {"weights": "w"}, lambda: pytest.fail("parsed"))
    _same(hit, first)
    np.testing.assert_array_equal(hit.weights, first.weights)
    assert hit.weights.dtype == np.float64 and first.weights is not None
    raw = bytearray((entry / "w.npy").read_bytes())
    raw[-1] ^= 0xFF
    (entry / "w.npy").write_bytes(bytes(raw))
    with pytest.warns(CacheWarning, match="w.npy does not match its checksum"):
        again = _load(path, weights="w")
    np.testing.assert_array_equal(again.weights, first.weights)
    np.testing.assert_array_equal(
        cache.cached(path, {"weights": "w"}, lambda: pytest.fail("parsed")).weights, first.weights
    )
