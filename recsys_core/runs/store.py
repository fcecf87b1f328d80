"""The run store: one SQLite database (WAL) plus artifact files (their half is `files`,
mixed in). Persistence only: it knows no model class. Every read returns `record.Run`; the
writes are called by the run life (`life.RunLife`) alone.

- `runs`: one row per training run (sweep, dataset, model, config, status, device, timings,
  final metrics, error); `epochs`: per-epoch metrics of each run. Schema versioned, with
  explicit migrations.
- Artifacts per cache key (dataset fingerprint + model + config hash + schema version) in
  `runs/<key>/`: arrays as .npz (allow_pickle=False), weights as a state_dict (loaded with
  `weights_only=True`). Every file is written to a temp file and renamed, and its SHA-256
  goes into `manifest.json`; a file that is missing, truncated or altered fails the check
  on load and is rebuilt, never shown half.
- `lock(key)`: an exclusive file lock (`filelock`: Linux, macOS and Windows alike), so two
  processes asking for the same run do not both train it.
- `version()`: a cheap token that changes whenever a run is created or changes state, so
  readers (the app's pages) can cache what they computed from the store until it changes.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import sqlite3
import time
from pathlib import Path

import psutil

from recsys_core.paths import artifacts_dir
from recsys_core.runs.files import ArtifactFiles
from recsys_core.runs.record import Run

ARTIFACT_VERSION = 2  # part of every cache key: bump when the artifact layout changes
# 2: models keep their inference state (rating mean and range) in their weights
STATUSES = ("queued", "running", "done", "diverged", "failed", "cancelled", "interrupted", "pruned")
MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            key TEXT NOT NULL,
            sweep TEXT,
            label TEXT,
            dataset TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            model TEXT NOT NULL,
            config TEXT NOT NULL,
            config_hash TEXT NOT NULL,
            status TEXT NOT NULL,
            device TEXT,
            host TEXT,
            pid INTEGER,
            started REAL,
            finished REAL,
            seconds REAL,
            metrics TEXT,
            error TEXT,
            best_epoch INTEGER,
            created REAL NOT NULL
        )""",
        "CREATE INDEX runs_key ON runs(key)",
        "CREATE INDEX runs_sweep ON runs(sweep, fingerprint)",
        """CREATE TABLE epochs (
            run INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            epoch INTEGER NOT NULL,
            train_loss REAL,
            valid_loss REAL,
            metrics TEXT,
            seconds REAL,
            PRIMARY KEY (run, epoch)
        )""",
    ],
    # who owns a queued/running run: "host:pid:process start", so a server restart (even one
    # that gets the same pid back) is told apart from a live owner
    # meta: what is needed to resubmit a run (dataset source, protocols, the overrides given)
    2: ["ALTER TABLE runs ADD COLUMN owner TEXT", "ALTER TABLE runs ADD COLUMN meta TEXT"],
}
SCHEMA_VERSION = max(MIGRATIONS)


def cache_key(fingerprint: str, model: str, config_hash: str) -> str:
    return f"{fingerprint}-{model}-{config_hash}-s{ARTIFACT_VERSION}"


class Store(ArtifactFiles):
    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else artifacts_dir()
        self.root.mkdir(parents=True, exist_ok=True)
        self.path = self.root / "runs.sqlite"
        self._verified: dict[tuple[str, str], tuple[int, int, str]] = {}  # (key, name) -> size, mtime, hash
        self._migrate()

    # ---------------------------------------------------------------- database

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        con.row_factory = sqlite3.Row
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA foreign_keys=ON")
        con.execute("PRAGMA busy_timeout=30000")
        return con

    @contextlib.contextmanager
    def _db(self):
        con = self._connect()
        try:
            yield con
        finally:
            con.close()

    def _migrate(self) -> None:
        with self.lock("schema"), self._db() as con:
            version = con.execute("PRAGMA user_version").fetchone()[0]
            for v in sorted(MIGRATIONS):
                if v > version:
                    con.execute("BEGIN")
                    for stmt in MIGRATIONS[v]:
                        con.execute(stmt)
                    con.execute(f"PRAGMA user_version={v}")
                    con.execute("COMMIT")

    def schema_version(self) -> int:
        with self._db() as con:
            return con.execute("PRAGMA user_version").fetchone()[0]

    def create_run(
        self,
        *,
        key,
        dataset,
        fingerprint,
        model,
        config: dict,
        config_hash,
        sweep=None,
        label=None,
        status="queued",
        meta: dict | None = None,
    ) -> int:
        with self._db() as con:
            cur = con.execute(
                "INSERT INTO runs (key, sweep, label, dataset, fingerprint, model, config, config_hash, status, created,"
                " host, pid, owner, meta) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    sweep,
                    label,
                    dataset,
                    fingerprint,
                    model,
                    json.dumps(config, sort_keys=True),
                    config_hash,
                    status,
                    time.time(),
                    socket.gethostname(),
                    os.getpid(),
                    owner_token(),
                    json.dumps(meta or {}),
                ),
            )
            return int(cur.lastrowid)

    def start_run(self, run_id: int, device: str = "") -> None:
        with self._db() as con:
            con.execute(
                "UPDATE runs SET status='running', device=?, host=?, pid=?, owner=?, started=? WHERE id=?",
                (device, socket.gethostname(), os.getpid(), owner_token(), time.time(), run_id),
            )

    def add_epoch(self, run_id: int, row: dict) -> None:
        extra = {k: v for k, v in row.items() if k not in ("epoch", "train_loss", "valid_loss", "seconds")}
        with self._db() as con:
            con.execute(
                "INSERT OR REPLACE INTO epochs (run, epoch, train_loss, valid_loss, metrics, seconds) VALUES (?,?,?,?,?,?)",
                (
                    run_id,
                    row["epoch"],
                    row.get("train_loss"),
                    row.get("valid_loss"),
                    json.dumps(extra),
                    row.get("seconds"),
                ),
            )

    def finish_run(
        self,
        run_id: int,
        status: str,
        metrics: dict | None = None,
        error: str = "",
        best_epoch: int | None = None,
        device: str | None = None,
    ) -> None:
        assert status in STATUSES, status
        now = time.time()
        with self._db() as con:
            con.execute(
                "UPDATE runs SET status=?, metrics=?, error=?, best_epoch=?, finished=?,"
                " seconds=? - COALESCE(started, created), device=COALESCE(?, device) WHERE id=?",
                (status, json.dumps(metrics or {}), error, best_epoch, now, now, device, run_id),
            )

    def set_status(self, run_id: int, status: str, error: str = "") -> None:
        with self._db() as con:
            con.execute("UPDATE runs SET status=?, error=? WHERE id=?", (status, error, run_id))

    def update_meta(self, run_id: int, **values) -> None:
        """Add to a run's meta (where a remote executor ran it, for instance)."""
        with self._db() as con:
            row = con.execute("SELECT meta FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is not None:
                meta = {**json.loads(row["meta"] or "{}"), **values}
                con.execute("UPDATE runs SET meta=? WHERE id=?", (json.dumps(meta), run_id))

    def run(self, run_id: int) -> Run | None:
        with self._db() as con:
            r = con.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        return Run.from_row(r) if r else None

    def replaced(self, run: Run) -> bool:
        """Whether the weights stored under `run`'s key are no longer its own: a later run of
        the same settings stored other ones (the store keeps one set per key). Runs stored
        before a run's weights were recorded in its meta are taken as their own."""
        own = run.meta.get("weights")
        return own is not None and self.digest(run.key, "weights.pt") not in (own, None)

    def runs(self, *, fingerprint=None, model=None, sweep=None, status=None, key=None) -> list[Run]:
        clauses, args = [], []
        for col, val in (
            ("fingerprint", fingerprint),
            ("model", model),
            ("sweep", sweep),
            ("status", status),
            ("key", key),
        ):
            if val is not None:
                clauses.append(f"{col}=?")
                args.append(val)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._db() as con:
            rows = con.execute(f"SELECT * FROM runs{where} ORDER BY id", args).fetchall()
        return [Run.from_row(r) for r in rows]

    def epochs(self, run_id: int) -> list[dict]:
        with self._db() as con:
            rows = con.execute("SELECT * FROM epochs WHERE run=? ORDER BY epoch", (run_id,)).fetchall()
        out = []
        for r in rows:
            d = {
                "epoch": r["epoch"],
                "train_loss": r["train_loss"],
                "valid_loss": r["valid_loss"],
                "seconds": r["seconds"],
            }
            d.update(json.loads(r["metrics"] or "{}"))
            out.append(d)
        return out

    def delete_run(self, run_id: int) -> None:
        """Remove a run and its epochs; its artifact folder too when no other run shares its key."""
        with self._db() as con:
            row = con.execute("SELECT key FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None:
                return
            con.execute("BEGIN")
            con.execute("DELETE FROM epochs WHERE run=?", (run_id,))
            con.execute("DELETE FROM runs WHERE id=?", (run_id,))
            con.execute("COMMIT")
            shared = con.execute("SELECT COUNT(*) FROM runs WHERE key=?", (row["key"],)).fetchone()[0]
        if not shared:
            folder = self.artifact_dir(row["key"])
            if folder.resolve().parent == (self.root / "runs").resolve():  # never outside the store
                shutil.rmtree(folder, ignore_errors=True)
            for name in [k for k in self._verified if k[0] == row["key"]]:
                self._verified.pop(name, None)

    def latest_done(self, key: str, sweep: str | None = None) -> Run | None:
        """The newest finished run (done or diverged) for a cache key."""
        runs = [
            r for r in self.runs(key=key) if r.status in ("done", "diverged") and (sweep is None or r.sweep == sweep)
        ]
        return runs[-1] if runs else None

    def latest_done_many(self, keys: list[str]) -> dict[str, Run]:
        """key -> its newest finished run (done or diverged), for many keys in one query."""
        if not keys:
            return {}
        marks = ",".join("?" * len(keys))
        with self._db() as con:
            rows = con.execute(
                f"SELECT * FROM runs WHERE key IN ({marks}) AND status IN ('done', 'diverged') ORDER BY id", keys
            ).fetchall()
        return {r["key"]: Run.from_row(r) for r in rows}  # ordered by id: the newest wins

    def version(self) -> tuple:
        """Changes whenever a run is created, starts, records an epoch or finishes."""
        with self._db() as con:
            runs = con.execute(
                "SELECT COUNT(*), MAX(id), MAX(COALESCE(finished, 0)), MAX(COALESCE(started, 0)),"
                " SUM(status IN ('done', 'diverged')) FROM runs"
            ).fetchone()
            epochs = con.execute("SELECT COUNT(*) FROM epochs").fetchone()
        return (*tuple(runs), epochs[0])

    def mark_interrupted(self, sweep: str | None = None) -> int:
        """Runs left 'running' or 'queued' by a process that is gone become 'interrupted'
        (a killed sweep, a restarted server), so they are redone, not shown running forever."""
        n = 0
        for r in self.runs(sweep=sweep):
            if r.status not in ("running", "queued") or _owner_alive(r):
                continue
            self.set_status(r.id, "interrupted", "the process running it stopped (killed or restarted)")
            n += 1
        return n


def _start_time(pid: int) -> str:
    """The process's start time (psutil: Linux, macOS and Windows), '' where unknown."""
    try:
        return f"{psutil.Process(pid).create_time():.2f}"
    except (psutil.Error, OSError):
        return ""


def owner_token(pid: int | None = None) -> str:
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}:{_start_time(pid)}"


def _owner_alive(r: Run) -> bool:
    """Is the process that queued or runs this run still the same live process?"""
    if r.owner:
        host, pid, _ = r.owner.rsplit(":", 2)
        return host == socket.gethostname() and psutil.pid_exists(int(pid)) and owner_token(int(pid)) == r.owner
    return bool(r.host == socket.gethostname() and r.pid and psutil.pid_exists(r.pid))
