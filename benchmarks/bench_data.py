"""Dataset load times: cold (parse the files) and warm (parquet cache).

Targets on a 2-core machine: ml-1m cold < 3 s, warm < 0.5 s. Datasets not fetched are skipped.
    python benchmarks/bench_data.py
"""

from _common import best_of, table

from recsys_core.data import KNOWN, is_fetched, load_dataset


def main() -> None:
    rows = []
    for name in KNOWN:
        if not is_fetched(name):
            print(f"{name}: not fetched, skipped (python -m recsys_core data fetch {name})")
            continue
        load_dataset(name)  # make sure the cache exists
        cold = best_of(lambda n=name: load_dataset(n, use_cache=False), 3)
        warm = best_of(lambda n=name: load_dataset(n), 5)
        ds = load_dataset(name)
        rows.append(
            {
                "dataset": name,
                "ratings": f"{ds.n_ratings:,}",
                "cold parse (s)": f"{cold:.2f}",
                "warm cache (s)": f"{warm:.3f}",
                "speed-up": f"{cold / warm:.0f}x",
            }
        )
    if rows:
        print(table(rows))


if __name__ == "__main__":
    main()
