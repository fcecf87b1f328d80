"""Where embnet's CPU time goes: torch's dropout against a mask drawn with `torch.rand_like`,
on the shapes the shipped embnet trains with, and the share of one fit spent in dropout.

    python benchmarks/bench_dropout.py

torch's CPU dropout draws a Bernoulli mask; a uniform draw compared with p is the same
inverted dropout in distribution, but another random stream (so switching would change
every tuned and swept figure of the models with dropout).
"""

from __future__ import annotations

import cProfile
import pstats

import torch
from _common import best_of, table

from recsys_core.data import load_dataset
from recsys_core.evaluation.splits import ratings_split
from recsys_core.runs import zoo
from recsys_core.training.fitting import fit_model

REPEAT = 200


def rand_mask_dropout(x: torch.Tensor, p: float) -> torch.Tensor:
    return x * (torch.rand_like(x) >= p) * (1.0 / (1.0 - p))


def main() -> None:
    cfg = zoo.config_for("embnet")
    batch = cfg.batch_size
    shapes = [("embedding dropout", (batch, 2 * cfg.dim), cfg.embedding_dropout)]
    shapes += [(f"hidden dropout {j + 1}", (batch, n), p) for j, (n, p) in enumerate(zip(cfg.hidden, cfg.dropouts))]
    torch.manual_seed(0)
    rows = []
    for name, shape, p in shapes:
        x = torch.randn(*shape)
        ours = best_of(lambda x=x, p=p: [torch.nn.functional.dropout(x, p, True) for _ in range(REPEAT)]) / REPEAT
        mask = best_of(lambda x=x, p=p: [rand_mask_dropout(x, p) for _ in range(REPEAT)]) / REPEAT
        rows.append(
            {
                "input": f"{name} {shape[0]} x {shape[1]}, p {p:g}",
                "torch dropout (ms)": f"{ours * 1e3:.3f}",
                "rand_like mask (ms)": f"{mask * 1e3:.3f}",
                "ratio": f"{ours / mask:.1f}x",
            }
        )
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    print(table(rows))

    ds = load_dataset("ml-100k")
    rs = ratings_split(ds)
    m = zoo.make("embnet", ds.n_users, ds.n_items, {"epochs": "10", "patience": "100"})
    prof = cProfile.Profile()
    prof.enable()
    fit_model(m, rs.train, rs.valid)
    prof.disable()
    stats = pstats.Stats(prof).stats
    total = max(v[3] for v in stats.values())  # the outermost call's cumulative time
    in_dropout = sum(v[2] for k, v in stats.items() if k[2] == "<built-in method torch.dropout>")
    print(
        f"embnet, 10 epochs on ml-100k's ratings split: {total:.1f} s, of which torch.dropout {in_dropout:.1f} s "
        f"({in_dropout / total:.0%})"
    )


if __name__ == "__main__":
    main()
