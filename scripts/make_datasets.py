"""Write the example datasets to ``datasets/*.csv``.

The five datasets are small toy sets that scikit-learn ships inside its own
package (``sklearn/datasets/data``), so this script needs no network and gives
the same bytes on every machine. Together they cover what linfit does:

* ``iris``, ``wine``, ``breast_cancer``: classification with string labels
  (the class names, e.g. ``setosa``, ``class_0``, ``malignant``);
* ``digits``: 10-class classification with integer labels 0-9;
* ``diabetes``: regression with a float target.

Each CSV has a header of scikit-learn's feature names and the label in a last
column named ``target``. Floats are written in Python's shortest round-trip
form, so reading a file back gives exactly the float64 values scikit-learn has.

Usage: ``python scripts/make_datasets.py [--out-dir DIR]`` (default:
``datasets/`` at the repo root).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import datasets
from sklearn.utils import Bunch

ROOT = Path(__file__).resolve().parent.parent

# name -> (loader, write class names instead of integer labels)
DATASETS: dict[str, tuple[Callable[..., Bunch], bool]] = {
    "iris": (datasets.load_iris, True),
    "wine": (datasets.load_wine, True),
    "breast_cancer": (datasets.load_breast_cancer, True),
    "digits": (datasets.load_digits, False),
    "diabetes": (datasets.load_diabetes, False),
}


def load_frame(loader: Callable[..., Bunch], class_names: bool) -> pd.DataFrame:
    """Return the features with scikit-learn's names plus a last ``target`` column."""
    bunch = loader(as_frame=True)
    frame = bunch.data.copy()
    target = np.asarray(bunch.target)
    if class_names:
        frame["target"] = np.asarray(bunch.target_names)[target]
    else:
        frame["target"] = target
    return frame


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` with a header, no index and ``\\n`` line ends on every OS."""
    frame.to_csv(path, index=False, lineterminator="\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out-dir", type=Path, default=ROOT / "datasets", help="where to write the CSVs"
    )
    args = parser.parse_args(argv)
    out_dir: Path = args.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, (loader, class_names) in DATASETS.items():
        frame = load_frame(loader, class_names)
        path = out_dir / f"{name}.csv"
        write_csv(frame, path)
        print(f"wrote {path} ({frame.shape[0]} rows x {frame.shape[1]} columns)")


if __name__ == "__main__":
    main()
