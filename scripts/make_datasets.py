"""Write the bundled example datasets to ``datasets/*.csv`` (``make datasets``).

The five are the toy sets scikit-learn ships inside its package, so this needs no
network and gives the same bytes on every machine: iris, wine and breast_cancer
(labels written as class names), digits (labels 0-9) and diabetes (a float target).
See ``linfit.data.bundled``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from linfit.data.bundled import write_bundled

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=ROOT / "datasets", help="folder to write")
    for path in write_bundled(parser.parse_args(argv).out_dir):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
