"""recsys_core: data, evaluation, models, training and the run store behind Recsys Explorer.

Nothing in this package imports streamlit; the app's pages sit on top of it.

Importing the package sets `OMP_WAIT_POLICY=PASSIVE` (unless the environment already names
a policy) before anything imports torch: torch's OpenMP threads then sleep while they wait
for work instead of spinning on a core. Measured on 2 cores with one busy-loop process
beside a 2-thread SASRec training (docs/benchmarks.md, "Under load"): spinning, the wait
policy torch gets by default, took 63 s and 77 CPU seconds for what takes 23 s idle;
passive, 29 s and 27 CPU seconds, the same figures to the bit. `WAIT_POLICY` says what is
in force; it is unknown when torch was imported before this package (libgomp reads the
variable once, when torch loads).
"""

import os as _os
import sys as _sys

__version__ = "0.1.0"

_TORCH_FIRST = "torch" in _sys.modules
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
WAIT_POLICY = "unknown (torch was imported first)" if _TORCH_FIRST else _os.environ["OMP_WAIT_POLICY"].lower()
