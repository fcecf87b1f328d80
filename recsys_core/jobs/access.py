"""Who may start work on a shared server, and how much: viewers and editors, and the caps.

With no access settings everyone is an editor (a laptop, a server on the loopback address:
as before). With an editor token (`RECSYS_EDITOR_TOKEN`, or `editor_token` in Streamlit's
secrets) or a list of editor accounts (`RECSYS_EDITORS`, comma-separated e-mails, where
Streamlit's own login is configured), visitors are viewers: every result is theirs to see,
and training, sweeps, fetching, rebuilding and deleting ask for editor access. The refusal
happens in the job layer (`recsys_core.jobs`), so a page that forgot to hide a button still
cannot start anything.

Caps (environment, with their defaults): `RECSYS_MAX_QUEUED_PER_SESSION` (3 queued or running
jobs a browser session started), `RECSYS_MAX_QUEUED` (20 in all), `RECSYS_MAX_SWEEP_POINTS`
(50 points a sweep), `RECSYS_MAX_EPOCHS` (200 epochs a training), `RECSYS_MAX_UPLOAD_MB` (200).
A request over a cap is refused naming the cap, and nothing is queued. A training or sweep
process started from the app is killed, its run ending `failed` with the reason, past
`RECSYS_JOB_MEMORY_MB` (8192 MiB resident) or `RECSYS_JOB_SECONDS` (7200). Torch-free.
"""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass, fields

from recsys_core.errors import RecsysError


class AccessDenied(RecsysError):
    """A request refused for want of editor access or over a cap; nothing was started."""


@dataclass(frozen=True)
class Caller:
    role: str = "editor"  # "editor" or "viewer"
    session: str = ""  # the browser session that asks ("" for the CLI and the library)
    name: str = ""  # who, where known (a login's e-mail)

    @property
    def editor(self) -> bool:
        return self.role == "editor"


EDITOR = Caller("editor", "", "command line")  # the CLI's and the library's own calls
SYSTEM = Caller("editor", "", "the server")  # what the app does by itself (the first fetch and build)


@dataclass(frozen=True)
class Limits:
    queued_per_session: int = 3
    queued_total: int = 20
    sweep_points: int = 50
    epochs: int = 200
    upload_mb: int = 200
    job_memory_mb: int = 8192  # a training process's resident memory (recsys_core.jobs.child)
    job_seconds: int = 7200  # a training process's wall time

    @classmethod
    def from_env(cls) -> Limits:
        """The caps from RECSYS_MAX_* (a value that is not a positive whole number is refused)."""
        names = {
            "queued_per_session": "RECSYS_MAX_QUEUED_PER_SESSION",
            "queued_total": "RECSYS_MAX_QUEUED",
            "sweep_points": "RECSYS_MAX_SWEEP_POINTS",
            "epochs": "RECSYS_MAX_EPOCHS",
            "upload_mb": "RECSYS_MAX_UPLOAD_MB",
            "job_memory_mb": "RECSYS_JOB_MEMORY_MB",
            "job_seconds": "RECSYS_JOB_SECONDS",
        }
        values = {}
        for f in fields(cls):
            raw = os.environ.get(names[f.name], "").strip()
            if not raw:
                continue
            try:
                values[f.name] = int(raw)
            except ValueError:
                values[f.name] = 0
            if values[f.name] < 1:
                raise RecsysError(f"{names[f.name]}={raw!r}: a cap is a whole number of at least 1")
        return cls(**values)


@dataclass(frozen=True)
class Settings:
    """The access settings in force: an editor token and/or editor accounts."""

    token: str = ""
    editors: tuple[str, ...] = ()

    @property
    def configured(self) -> bool:
        return bool(self.token or self.editors)

    @classmethod
    def from_env(cls, secrets: dict | None = None) -> Settings:
        token = os.environ.get("RECSYS_EDITOR_TOKEN", "") or str((secrets or {}).get("editor_token", "") or "")
        editors = tuple(e.strip().lower() for e in os.environ.get("RECSYS_EDITORS", "").split(",") if e.strip())
        return cls(token.strip(), editors)

    def role(self, token: str = "", account: str = "") -> str:
        """'editor' without settings, with the right token, or for a listed account; else 'viewer'."""
        if not self.configured:
            return "editor"
        if self.token and token and hmac.compare_digest(token.encode(), self.token.encode()):
            return "editor"
        if account and account.strip().lower() in self.editors:
            return "editor"
        return "viewer"


def require_editor(caller: Caller, what: str) -> None:
    if not caller.editor:
        raise AccessDenied(
            f"{what} needs editor access: this server's visitors are viewers (enter the editor token in the "
            "sidebar, or sign in with an editor account); nothing was started"
        )


def loopback(address: str | None) -> bool:
    """Whether a server address answers this machine only (Streamlit's default, none, is every interface)."""
    return (address or "").strip() in ("localhost", "127.0.0.1", "::1") or (address or "").startswith("127.")
