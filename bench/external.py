"""Baselines from outside the Python stack linfit is built on: LIBLINEAR, Vowpal Wabbit,
pyarrow and polars. Each is optional (``pip install -e .[bench]``); a missing one yields
a row that says so, so the report shows what was not measured rather than hiding it.
"""

from __future__ import annotations

import importlib.util
import io
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.harness import Row, timed


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def missing(workload: str, system: str, package: str) -> Row:
    return Row(workload, system, None, quality=f"not measured: pip install {package}")


def liblinear(
    X: np.ndarray, y: np.ndarray, Xt: np.ndarray, yt: np.ndarray, C: float, t_svc: float
) -> Row:
    """LIBLINEAR's own binding, ``-s 2``: L2-regularized squared hinge, one-vs-rest, primal
    trust-region Newton (LinearSVC's solver for n_samples > n_features), bias as ``-B 1``.

    Crammer-Singer (``-s 4``) is left out: it ran over 5 minutes on this workload and
    reached 0.18-0.25 test accuracy when measured for the issue.
    """
    system = "LIBLINEAR -s 2 (one-vs-rest, squared hinge)"
    if not installed("liblinear"):
        return missing("svm fit", system, "liblinear-official")
    from liblinear.liblinearutil import predict, train

    labels = y.astype(np.float64)
    model, t = timed(lambda: train(labels, X, f"-s 2 -c {C!r} -B 1 -q"))
    predicted, _, _ = predict(yt.astype(np.float64), Xt, model, "-q")
    acc = float(np.mean(np.asarray(predicted) == yt))
    return Row("svm fit", system, t, "LinearSVC", t / t_svc, f"test accuracy {acc:.4f}")


def _write_vw(path: Path, X: np.ndarray, y: np.ndarray) -> None:
    """VW's text format, ``label | 0:x0 1:x1 ...``, labels 1..K."""
    fmt = "%d | " + " ".join(f"{j}:%.6g" for j in range(X.shape[1]))
    np.savetxt(path, np.column_stack([y + 1, X]), fmt=fmt)


def vowpal_wabbit(
    X: np.ndarray, y: np.ndarray, Xt: np.ndarray, yt: np.ndarray, t_svc: float
) -> list[Row]:
    """Vowpal Wabbit ``--oaa K``, 3 passes over a cache, hinge and logistic losses.

    Its input is text: formatting the arrays as VW lines is timed on its own row, and the
    fits time learning alone (VW parses the text into its cache on the first pass).
    """
    systems = [f"Vowpal Wabbit --oaa, 3 passes, {loss} loss" for loss in ("hinge", "logistic")]
    if not installed("vowpalwabbit"):
        return [missing("svm fit", s, "vowpalwabbit") for s in systems]
    import vowpalwabbit

    K = int(y.max()) + 1
    with tempfile.TemporaryDirectory() as folder:
        train, test = Path(folder) / "train.vw", Path(folder) / "test.vw"
        _, t_format = timed(lambda: _write_vw(train, X, y))
        _write_vw(test, Xt, yt)
        rows = [Row("svm fit", "Vowpal Wabbit: formatting its text input", t_format)]
        for loss, system in zip(("hinge", "logistic"), systems, strict=True):
            model, preds = Path(folder) / f"{loss}.model", Path(folder) / f"{loss}.pred"
            args = (
                f"--oaa {K} --loss_function {loss} --passes 3 -c -k "
                f"--cache_file {folder}/{loss}.cache --quiet"
            )
            _, t = timed(
                lambda a=args, m=model: vowpalwabbit.Workspace(f"{a} -d {train} -f {m}").finish()
            )
            vowpalwabbit.Workspace(f"-i {model} -t -d {test} -p {preds} --quiet").finish()
            predicted = np.loadtxt(preds, usecols=0).astype(int) - 1
            acc = float(np.mean(predicted == yt))
            rows.append(
                Row("svm fit", system, t, "LinearSVC", t / t_svc, f"test accuracy {acc:.4f}")
            )
    return rows


def csv_readers(path: Path) -> list[tuple[str, Callable[[], object] | None, str]]:
    """``(system, read, package)`` for the other CSV readers: read is None when missing."""
    import pandas as pd

    readers: list[tuple[str, Callable[[], object] | None, str]] = []
    if installed("pyarrow"):
        import pyarrow.csv

        readers.append(
            ("pandas.read_csv (pyarrow engine)", lambda: pd.read_csv(path, engine="pyarrow"), "")
        )
        readers.append(("pyarrow.csv.read_csv", lambda: pyarrow.csv.read_csv(path), ""))
    else:
        readers += [("pandas.read_csv (pyarrow engine)", None, "pyarrow")]
    if installed("polars"):
        import polars

        readers.append(("polars.read_csv", lambda: polars.read_csv(path), ""))
    else:
        readers.append(("polars.read_csv", None, "polars"))
    return readers


def write_vw_binary(path: Path, X: Any, y: np.ndarray) -> None:
    """Binary labels ``y`` (n,) in {0, 1} and CSR rows ``X`` (n, d) as VW's text format,
    ``-1 | 3:0.25 17:0.5 ...`` (label +1 for class 1): LIBSVM's text through scikit-learn's
    writer, each line's first space made VW's ``" | "`` namespace separator."""
    from sklearn.datasets import dump_svmlight_file

    buffer = io.BytesIO()
    dump_svmlight_file(X, 2 * np.asarray(y, dtype=np.int64) - 1, buffer, zero_based=True)
    path.write_bytes(re.sub(rb"(?m)^(\S+) ", rb"\1 | ", buffer.getvalue()))


def vw_learn(train: Path, model: Path, options: str) -> None:
    """One Vowpal Wabbit run learning from the text file ``train`` into ``model``."""
    import vowpalwabbit

    vowpalwabbit.Workspace(f"{options} -d {train} -f {model} --quiet").finish()


def vw_binary_accuracy(model: Path, test: Path, y: np.ndarray) -> float:
    """Test accuracy of the VW ``model`` on the text file ``test`` of labels ``y`` (n,) in
    {0, 1}: its raw score's sign is the class."""
    import vowpalwabbit

    predictions = test.with_suffix(".pred")
    vowpalwabbit.Workspace(f"-i {model} -t -d {test} -p {predictions} --quiet").finish()
    scores = np.loadtxt(predictions, usecols=0, ndmin=1)
    return float(np.mean((scores > 0) == (np.asarray(y) == 1)))
