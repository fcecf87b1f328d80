"""The `Run` record: one training run as the store keeps it. Torch-free.

Every reader of the store gets these (never dict rows): the pages, the reports, the sweeps,
the jobs, the CLI. A run is written only through the run life (`life.RunLife`), so its
fields change in one place; the record itself is frozen, a snapshot of one read.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from dataclasses import dataclass, field

FINAL = ("done", "diverged", "failed", "cancelled", "interrupted", "pruned")


@dataclass(frozen=True)
class Run:
    id: int
    key: str  # dataset fingerprint + model + config hash + protocols + artifact version
    dataset: str
    fingerprint: str
    model: str
    config: dict  # the full config, as saved (`config.to_dict`)
    config_hash: str
    status: str  # queued | running | done | diverged | failed | cancelled | interrupted | pruned
    created: float
    sweep: str | None = None  # None for a shipped model; "my-runs" for the Train page's
    label: str | None = None
    device: str | None = None  # the device line the fit wrote ("CPU, 2 torch threads", a GPU's name)
    host: str | None = None
    pid: int | None = None
    owner: str | None = None  # "host:pid:process start" of the process that queued or runs it
    started: float | None = None
    finished: float | None = None
    seconds: float | None = None
    metrics: dict = field(default_factory=dict)  # protocol -> figures, and "seconds" -> timings
    error: str | None = None  # why it failed, was cancelled or pruned, or a diverged fit's message
    best_epoch: int | None = None
    meta: dict = field(default_factory=dict)  # protocols, the dataset's SRC, overrides, a sweep point

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Run:
        d = dict(row)
        for name in ("config", "metrics", "meta"):
            d[name] = json.loads(d[name]) if d.get(name) else {}
        return cls(**{f.name: d.get(f.name) for f in dataclasses.fields(cls) if f.name in d})

    @property
    def protocols(self) -> list[str]:
        """The protocols it was evaluated under (kept in its meta since it was created)."""
        return list(self.meta.get("protocols") or [])

    @property
    def final(self) -> bool:
        """Ended, one way or another: it will not change again unless trained anew."""
        return self.status in FINAL

    def as_dict(self) -> dict:
        """Its fields as a plain dict (JSON output, a table row)."""
        return dataclasses.asdict(self)
