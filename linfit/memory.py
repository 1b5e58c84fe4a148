"""Memory checked before it is spent: the budget, and the one-line refusal.

A run's large allocations grow with features x outputs (weights, gradients, an
optimizer's saved vectors), rows x outputs (scores), features^2 (a dense Hessian or
inverse Hessian, a Gram matrix) and rows x features (a standardized or densified copy of
X). Their estimate, made before the first of them is allocated (see
:mod:`linfit.fitting.budget`), is held to the budget here: ``$LINFIT_MEMORY_BUDGET``
(bytes, ``8e9`` or ``8000000000``), else the memory the system says is available now
(Linux's MemAvailable: free memory plus the caches it can drop); an estimate under
``FLOOR_BYTES`` always passes. A run that would not
fit is refused in one line naming the sizes and a way out; a ``MemoryError`` that still
happens is rendered in one line by the command line, exit 2.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from linfit.errors import LinfitError, OptionError

BUDGET_VARIABLE = "LINFIT_MEMORY_BUDGET"
# A run estimated under this is never refused, whatever the budget: the interpreter and
# numpy take about as much themselves, and a tiny $LINFIT_MEMORY_BUDGET (which also
# sends files bigger than it out of core, see data.stream) still trains small tables.
FLOOR_BYTES = 64 << 20


class MemoryBudgetError(LinfitError):
    """A run whose estimated memory exceeds the budget, refused before it allocates."""


def budget_bytes() -> int:
    """Bytes a run may allocate: ``$LINFIT_MEMORY_BUDGET``, else the memory available."""
    if given := os.environ.get(BUDGET_VARIABLE):  # set and not empty
        try:
            value = float(given)
        except ValueError:
            value = -1.0
        if not value > 0 or value == float("inf"):
            raise OptionError(
                f"${BUDGET_VARIABLE} must be a positive number of bytes (e.g. 8e9), got {given!r}"
            )
        return int(value)
    return available_bytes()


def available_bytes() -> int:
    """The memory the system could give now: MemAvailable where Linux reports it, else
    the free pages, else all of physical memory."""
    try:
        with open("/proc/meminfo", encoding="ascii") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    page = os.sysconf("SC_PAGE_SIZE")
    for name in ("SC_AVPHYS_PAGES", "SC_PHYS_PAGES"):
        try:
            return int(os.sysconf(name)) * page
        except (ValueError, OSError):
            continue
    return 1 << 62  # nothing known: no limit but the system's own


def human(n_bytes: float) -> str:
    """``n_bytes`` as a message shows it: ``512 MB``, ``6.7 GB``, ``1.2 TB``."""
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= size:
            return f"{n_bytes / size:.3g} {unit}"
    return f"{int(n_bytes)} bytes"


def require(what: str, parts: Mapping[str, int], remedy: str) -> None:
    """Refuse ``what`` when the sum of ``parts`` (name: bytes) exceeds the budget (and
    ``FLOOR_BYTES``).

    The message names the total, the largest parts and the budget, then ``remedy`` (in
    the library's words: parameters in backquotes, rendered as flags by the CLI).
    """
    total = sum(parts.values())
    if total <= FLOOR_BYTES:
        return
    limit = budget_bytes()
    if total <= limit:
        return
    largest = sorted(parts.items(), key=lambda item: -item[1])[:3]
    shown = ", ".join(f"{name} {human(size)}" for name, size in largest if size > 0)
    source = f"${BUDGET_VARIABLE}" if os.environ.get(BUDGET_VARIABLE) else "available"
    raise MemoryBudgetError(
        f"{what} needs about {human(total)} of memory ({shown}), more than the "
        f"{human(limit)} {source}; {remedy}"
    )


def out_of_memory_message(exc: MemoryError) -> str:
    """The one line a ``MemoryError`` becomes at the command line."""
    detail = " ".join(str(exc).split())
    detail = f" ({detail})" if detail else ""
    return (
        f"out of memory{detail}; use less data or fewer classes, `dtype` float32, or "
        "`chunk_rows` to train out of core"
    )
