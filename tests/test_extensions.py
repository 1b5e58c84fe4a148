"""Every compiled source is built: each ``.c`` file in the package has its extension in
setup.py, and each extension imports. Every extension is optional (a failed build leaves
its fallback, only slower), so without this a missing setup.py line or a compile error
would pass every other test unseen; CI and this machine have a compiler."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DECLARED = re.findall(
    r'Extension\(\s*"([\w.]+)",\s*\["([\w/.]+)"\]', (ROOT / "setup.py").read_text()
)


def test_every_c_source_has_its_extension() -> None:
    sources = {path.relative_to(ROOT).as_posix() for path in (ROOT / "linfit").rglob("*.c")}
    assert sources, "no compiled sources found"
    assert sources == {source for _, source in DECLARED}


@pytest.mark.parametrize("name", [name for name, _ in DECLARED])
def test_every_extension_is_built(name: str) -> None:
    try:
        importlib.import_module(name)
    except ImportError as error:  # pragma: no cover - the failure's message
        pytest.fail(f"{name} was not compiled ({error}): `pip install -e .` needs a C compiler")
