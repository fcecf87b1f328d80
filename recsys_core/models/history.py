"""What a fit did, and the one rule for which epoch's figures count. Torch-free, so the
results reader and the sweep reports read it without torch."""

from __future__ import annotations

from dataclasses import dataclass, field


def best_row(epochs: list[dict], best_epoch: int | None) -> dict | None:
    """The row of the epoch whose weights a fit kept: its best epoch where it has one that
    its rows reach, else its last (a fit stopped before any improvement, a closed form);
    None without rows. Every table that shows "the best epoch's" figures reads it here."""
    if not epochs:
        return None
    return epochs[best_epoch - 1] if best_epoch and best_epoch <= len(epochs) else epochs[-1]


@dataclass
class History:
    """What a fit did: one row per epoch (a single row for closed-form models)."""

    epochs: list[dict] = field(default_factory=list)  # epoch, train_loss, valid_loss, metrics..., seconds
    best_epoch: int | None = None
    status: str = "done"  # done | diverged | cancelled | failed
    message: str = ""
    device: str = "cpu"

    def best_row(self) -> dict | None:
        """The epoch whose weights the fit kept (see `best_row`)."""
        return best_row(self.epochs, self.best_epoch)

    @property
    def seconds(self) -> float:
        return float(sum(e.get("seconds", 0.0) for e in self.epochs))

    def to_dict(self) -> dict:
        return {
            "epochs": self.epochs,
            "best_epoch": self.best_epoch,
            "status": self.status,
            "message": self.message,
            "device": self.device,
            "seconds": self.seconds,
        }
