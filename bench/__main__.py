"""``python -m bench [--quick] [--out results]``: run the workloads, write bench.md/.json."""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

from bench.classify import (
    evaluation_floor,
    float32,
    floor_across_shapes,
    make_data,
    softmax,
    svm,
)
from bench.harness import write_reports
from bench.ingest import ingest_and_end_to_end
from bench.least_squares import least_squares
from bench.libsvm_read import libsvm_read
from bench.onehot import onehot
from bench.out_of_core import out_of_core
from bench.sparse import NEWS20_LIKE, RCV1_LIKE, text_like
from bench.sparse_fit import news20, rcv1
from bench.startup import startup
from bench.strd import strd
from bench.tuning import cv_path, sparse_cv, weighted_fit

SIZES = {
    # the workloads: minutes on 2 cores
    "full": {
        "classify": (300_000, 100, 60, 10),
        "floor_rows": 120_000,  # the rows of each shape of the floor across shapes
        "least_squares": (1_000_000, 200),
        "ingest": (300_000, 100, 10),
        # a file that fits both ways, and one of about 3.3 GB
        "out_of_core": ((300_000, 100, 10), (3_300_000, 100, 10)),
        "rcv1": RCV1_LIKE,
        "news20": NEWS20_LIKE,
        "onehot": (600_000, 1e-5),
    },
    # a smoke run that keeps the code working (make test runs it)
    "quick": {
        "classify": (3_000, 20, 10, 5),
        "floor_rows": 2_000,
        "least_squares": (3_000, 20),
        "ingest": (2_000, 10, 3),
        "out_of_core": ((2_000, 10, 3), (5_000, 10, 3)),
        "rcv1": {"n_samples": 3_000, "n_features": 2_000, "nnz_per_row": 20},
        "news20": {"n_samples": 2_000, "n_features": 3_000, "nnz_per_row": 20, "n_classes": 5},
        # wide enough (5,000 x ~2,400) to be read sparse as the full one is; penalized
        # enough to fit in a few iterations
        "onehot": (5_000, 1e-3),
    },
}
WORKLOADS = (
    "softmax",
    "floor",
    "float32",
    "svm",
    "least_squares",
    "ingest",
    "out_of_core",
    "startup",
    "strd",
    "weighted",
    "cv",
    "rcv1",
    "sparse_cv",
    "news20",
    "libsvm_read",
    "onehot",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--out", type=Path, default=Path("results"), help="report folder")
    parser.add_argument("--only", nargs="*", choices=WORKLOADS, default=list(WORKLOADS))
    args = parser.parse_args(argv)
    sizes = SIZES["quick" if args.quick else "full"]
    rows = []
    data = (
        make_data(*sizes["classify"])
        if {"softmax", "floor", "float32", "svm", "weighted", "cv"} & set(args.only)
        else None
    )
    rcv1_data = functools.cache(lambda: text_like(**sizes["rcv1"]))  # rcv1 and sparse_cv
    steps = {
        "softmax": lambda: softmax(data),
        "floor": lambda: evaluation_floor(data) + floor_across_shapes(sizes["floor_rows"]),
        "float32": lambda: float32(data),
        "svm": lambda: svm(data),
        "least_squares": lambda: least_squares(*sizes["least_squares"]),
        "ingest": lambda: ingest_and_end_to_end(*sizes["ingest"]),
        "out_of_core": lambda: out_of_core(*sizes["out_of_core"]),
        "startup": startup,
        "strd": strd,
        "weighted": lambda: weighted_fit(data),
        "cv": lambda: cv_path(data),
        "rcv1": lambda: rcv1(rcv1_data()),
        "sparse_cv": lambda: sparse_cv(rcv1_data()),  # the -C search: about 30 minutes
        "news20": lambda: news20(text_like(**sizes["news20"])),
        "libsvm_read": lambda: libsvm_read(**sizes["rcv1"]),
        "onehot": lambda: onehot(*sizes["onehot"]),
    }
    for name in args.only:
        print(f"bench: {name}", file=sys.stderr, flush=True)
        rows += steps[name]()
    settings = {"sizes": "quick" if args.quick else "full", **{k: v for k, v in sizes.items()}}
    write_reports(rows, settings, args.out)
    missed = [r for r in rows if r.holds is False]
    print(
        f"bench: {len(rows)} rows, {len(missed)} targets missed; wrote {args.out}/bench.md",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
