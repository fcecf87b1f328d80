"""recsys_core: data, evaluation, models, training and the run store behind Recsys Explorer.

Nothing in this package imports streamlit; the app's pages sit on top of it.

Importing the package sets `OMP_WAIT_POLICY=PASSIVE` and `GOMP_SPINCOUNT=3000` (unless the
environment already names either) before anything imports torch: torch's OpenMP threads spin
for about 3,000 polls (tens of microseconds) when they run out of work, then sleep, instead
of spinning for milliseconds on a core another process needs. Measured on 2 cores
(`python benchmarks/bench_wait_policy.py`, docs/benchmarks.md "Under load"; SASRec, 5
epochs of ml-100k, the figures the same to the bit in every arm): torch's default spinning
collapses beside one busy-loop process (148 s against 9 s idle); sleeping at once is safe
under load (11.9 s) but slows the many small steps of a bf16 training when idle (12.2 s);
the short spin gives 9.0 s idle and 15.1 s beside the hog. `WAIT_POLICY` says what is in
force; it is unknown when torch was imported before this package (libgomp reads the
variables once, when torch loads).
"""

import os as _os
import sys as _sys

__version__ = "0.1.0"

SPIN_COUNT = 3000  # libgomp's polls before a waiting thread sleeps (its own default: 300,000)

_TORCH_FIRST = "torch" in _sys.modules
if "OMP_WAIT_POLICY" not in _os.environ and "GOMP_SPINCOUNT" not in _os.environ:
    _os.environ["OMP_WAIT_POLICY"] = "PASSIVE"  # a person's own setting of either is kept
    _os.environ["GOMP_SPINCOUNT"] = str(SPIN_COUNT)


def _wait_policy() -> str:
    policy = _os.environ.get("OMP_WAIT_POLICY", "unset").lower()
    spins = _os.environ.get("GOMP_SPINCOUNT")
    return policy if spins is None else f"{policy} after {spins} spins"


WAIT_POLICY = "unknown (torch was imported first)" if _TORCH_FIRST else _wait_policy()
