"""Train, evaluate and cache the shipped models into the store (`python -m recsys_core build`).

A loop over the zoo: each model goes through `life.ensure_run`, which returns a cached run
at once (its artifacts pass their checksum) or trains it now. A second build finds
everything cached. Sweeps are chained after a build by the CLI, not here.
"""

from __future__ import annotations

import contextlib

from recsys_core.data import Dataset
from recsys_core.errors import RecsysError
from recsys_core.evaluation.protocols import TEMPORAL
from recsys_core.runs import catalog
from recsys_core.runs.artifacts import load_ranks
from recsys_core.runs.life import Outcome, ensure_run
from recsys_core.runs.store import Store
from recsys_core.training.devices import pick_device


def build(
    ds: Dataset, models=None, store: Store | None = None, progress=None, cancel=None, protocol: str | None = None
) -> dict[str, Outcome]:
    """Make sure every shipped model (or `models`) is trained, evaluated and cached (under
    the leave-one-out protocols, or with `protocol="temporal"` under the temporal split); returns
    name -> Outcome. `progress(j, n, name, outcome)` after each model, and
    `progress(j, n, name, None)` before a model that is not cached yet; `cancel` (an Event)
    stops it between models and inside a training. `callbacks` of the model being trained
    come from `progress.callbacks(name)` where the progress object has it."""
    store = store or Store()
    store.mark_interrupted()
    names = list(models or catalog.models_for(ds, pick_device().type))
    outcomes: dict[str, Outcome] = {}
    for j, name in enumerate(names):
        if cancel is not None and cancel.is_set():
            break
        callbacks = progress.callbacks(name) if hasattr(progress, "callbacks") else ()
        protocols = [TEMPORAL] if protocol == TEMPORAL else None
        outcomes[name] = out = ensure_run(store, ds, name, protocols=protocols, cancel=cancel, callbacks=callbacks)
        if out.cached and out.run.status == "done" and store.load_arrays(out.run.key, "ranks") is None:
            # a run stored before per-user ranks were kept: computed from its weights, not retrained;
            # where its weights are gone, the pages go on without its paired tests
            with contextlib.suppress(RecsysError):
                load_ranks(store, out.run, ds)
        if progress:
            progress(j + 1, len(names), name, outcomes[name])
    return outcomes
