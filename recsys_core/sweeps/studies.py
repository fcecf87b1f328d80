"""The five write-ups this project comes from, named by what they are (`../shared/seeds/`).

The UI names a study, never a file number; each shipped sweep says which study it replays
and what that study claimed, so the Sweeps page can put the claim next to the result that
tests it. Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Study:
    key: str  # the seed file's number, for cross-reference in the docs only
    name: str  # what the UI says: "the NCF study"
    what: str  # one line: what the write-up is


STUDIES = {
    s.key: s
    for s in [
        Study("000", "the NCF study", "neural collaborative filtering in PyTorch on implicit feedback (MovieLens)"),
        Study("001", "the AutoRec study", "deep autoencoders for collaborative filtering on Netflix ratings"),
        Study("002", "the content + NCF study", "genre similarity and an NCF tower on MovieLens 20M, Hit Ratio@10"),
        Study("003", "the embedding-network study", "an embedding network for rating regression (fast.ai style)"),
        Study("004", "the CDAE study", "a collaborative denoising autoencoder on implicit feedback"),
    ]
}


def study(key: str) -> Study:
    return STUDIES[key]
