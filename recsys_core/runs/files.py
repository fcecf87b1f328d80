"""A run's artifact files: `runs/<key>/` under the store's root, each written to a temp file
and renamed, its SHA-256 in `manifest.json` and checked on every read (a file verified before
and unchanged in size and modification time is not hashed again), and the inter-process
locks. `Store` mixes it in beside its database.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np
from filelock import FileLock


class ArtifactFiles:
    """The artifact half of `Store`: needs `self.root` and `self._verified`."""

    root: Path
    _verified: dict[tuple[str, str], tuple[int, int, str]]

    # ---------------------------------------------------------------- artifacts

    def artifact_dir(self, key: str) -> Path:
        return self.root / "runs" / key

    def _write(self, key: str, name: str, data: bytes) -> None:
        folder = self.artifact_dir(key)
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, folder / name)
        self._update_manifest(key, {name: hashlib.sha256(data).hexdigest()})

    def _update_manifest(self, key: str, entries: dict) -> None:
        path = self.artifact_dir(key) / "manifest.json"
        with self.lock(f"manifest-{key}"):
            manifest = self._manifest(key)
            manifest.update(entries)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".manifest.", suffix=".tmp")
            with os.fdopen(fd, "w") as f:
                json.dump(manifest, f)
            os.replace(tmp, path)

    def _manifest(self, key: str) -> dict:
        try:
            return json.loads((self.artifact_dir(key) / "manifest.json").read_text())
        except (OSError, ValueError):
            return {}

    def _read(self, key: str, name: str) -> bytes | None:
        """The file's bytes when present and matching its recorded SHA-256, else None."""
        expected = self._manifest(key).get(name)
        path = self.artifact_dir(key) / name
        try:
            st = path.stat()
            data = path.read_bytes()
        except OSError:
            return None
        if expected is None or hashlib.sha256(data).hexdigest() != expected:
            self._verified.pop((key, name), None)
            return None
        self._verified[key, name] = (st.st_size, st.st_mtime_ns, expected)
        return data

    def intact(self, key: str, name: str) -> bool:
        """Whether an artifact file is there and matches its checksum, cheaply: a file verified
        before and unchanged since (same size and modification time, same manifest entry) is
        not read again; any change is read and hashed. What a page uses is checked this way
        each time it is shown, so damage is found on the next rerun, not at the next start."""
        try:
            st = (self.artifact_dir(key) / name).stat()
        except OSError:
            self._verified.pop((key, name), None)
            return False
        known = self._verified.get((key, name))
        if (
            known is not None
            and known[:2] == (st.st_size, st.st_mtime_ns)
            and known[2] == self._manifest(key).get(name)
        ):
            return True
        return self._read(key, name) is not None

    def save_arrays(self, key: str, name: str, **arrays) -> None:
        buf = io.BytesIO()
        np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items()})
        self._write(key, f"{name}.npz", buf.getvalue())

    def load_arrays(self, key: str, name: str) -> dict | None:
        data = self._read(key, f"{name}.npz")
        if data is None:
            return None
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except Exception:  # noqa: BLE001 - unreadable means rebuild
            return None

    def save_weights(self, key: str, checkpoint: dict) -> None:
        """A plain dict {"state_dict", "config", "model", ...}: never a pickled module."""
        import torch

        buf = io.BytesIO()
        torch.save(checkpoint, buf)
        self._write(key, "weights.pt", buf.getvalue())

    def load_weights(self, key: str, map_location="cpu") -> dict | None:
        import torch

        data = self._read(key, "weights.pt")
        if data is None:
            return None
        try:
            return torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
        except Exception:  # noqa: BLE001
            return None

    def digest(self, key: str, name: str) -> str | None:
        """The SHA-256 the manifest holds for an artifact file (None: never written)."""
        return self._manifest(key).get(name)

    def has_artifacts(self, key: str, names: list[str]) -> bool:
        return all(self.intact(key, n) for n in names)

    # ---------------------------------------------------------------- locks

    @contextlib.contextmanager
    def lock(self, name: str):
        """Exclusive inter-process lock (a file under locks/, through `filelock`)."""
        folder = self.root / "locks"
        folder.mkdir(parents=True, exist_ok=True)
        with FileLock(folder / f"{name}.lock"):
            yield
