"""A team's own interaction log: every column spelling, string ids, each time format, an
item table with multi-valued categories, Parquet, RecBole atomic files, implicit data, the
threshold and the k-core, a malformed line named, uploads, and the synth generator's shape."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from recsys_core.cli import main
from recsys_core.data import load_dataset
from recsys_core.data.logspec import LogSpec, detect_columns, parse_src, write_toml
from recsys_core.data.synth import Synth, generate
from recsys_core.errors import DataError
from recsys_core.jobs.access import AccessDenied, Caller, Limits
from recsys_core.jobs.uploads import own_datasets, save_dataset, save_upload
from recsys_core.runs.catalog import models_for, not_offered

VIEWER = Caller("viewer", "s1")
ROWS = [  # user, item, rating, epoch seconds
    ("u1", "A", 5.0, 1_600_000_000),
    ("u1", "B", 3.0, 1_600_000_100),
    ("u2", "A", 4.0, 1_600_000_200),
    ("u2", "C", 2.0, 1_600_000_050),
    ("u3", "B", 4.5, 1_600_000_300),
]


def write_log(path, header=("user", "item", "rating", "timestamp"), rows=ROWS, sep=","):
    lines = [sep.join(header)] + [sep.join(str(v) for v in r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    "header",
    [
        ("userId", "movieId", "rating", "timestamp"),
        ("user_id", "item_id", "score", "ts"),
        ("customer", "product", "stars", "time"),
        ("User ID", "Item-ID", "Rating", "Timestamp"),
    ],
)
def test_columns_found_by_their_common_names(tmp_path, header):
    ds = load_dataset(str(write_log(tmp_path / "log.csv", header)))
    assert (ds.n_users, ds.n_items, ds.n_ratings) == (3, 3, 5)
    assert ds.users["user_id"].tolist() == ["u1", "u2", "u3"]  # string ids kept
    assert not ds.implicit and sorted(ds.ratings["rating"].tolist()) == [2.0, 3.0, 4.0, 4.5, 5.0]
    u2 = ds.ratings[ds.ratings["user"] == 1]
    assert ds.items["item_id"].to_numpy()[u2["item"]].tolist() == ["C", "A"]  # ordered by time


def test_columns_named_on_the_command_line_and_in_a_tsv(tmp_path, capsys):
    path = write_log(tmp_path / "log.tsv", ("buyer", "thing", "stars", "moment"), sep="\t")
    with pytest.raises(DataError, match="no user column found"):
        load_dataset(str(path))
    code = main(
        [
            "data",
            "info",
            "--json",
            "--dataset",
            str(path),
            "--columns",
            "user=buyer,item=thing,time=moment,rating=stars",
        ]
    )
    info = json.loads(capsys.readouterr().out)
    assert (
        code == 0 and info["n_ratings"] == 5 and info["columns"] == "user=buyer, item=thing, time=moment, rating=stars"
    )
    assert main(["data", "info", "--dataset", str(path), "--columns", "user=nope"]) == 2
    err = capsys.readouterr().err
    assert "no column 'nope' for user" in err and str(path) in err


def test_each_time_format_gives_the_same_seconds(tmp_path):
    seconds = load_dataset(str(write_log(tmp_path / "s.csv"))).ratings["timestamp"].tolist()
    ms = [(u, i, r, t * 1000) for u, i, r, t in ROWS]
    iso = [(u, i, r, pd.Timestamp(t, unit="s").isoformat() + "Z") for u, i, r, t in ROWS]
    dates_only = [(u, i, r, pd.Timestamp(t, unit="s").strftime("%Y-%m-%d %H:%M:%S")) for u, i, r, t in ROWS]
    for name, rows in (("ms", ms), ("iso", iso), ("plain", dates_only)):
        ds = load_dataset(str(write_log(tmp_path / f"{name}.csv", rows=rows)))
        assert ds.ratings["timestamp"].tolist() == seconds, name


def test_an_item_table_with_multi_valued_categories_takes_the_place_of_genres(tmp_path):
    log = write_log(tmp_path / "log.csv")
    items = tmp_path / "items.csv"
    items.write_text("item,title,dept\nA,Red shirt,clothes;red\nB,Blue cup,kitchen\nC,Lamp,home;light\nD,Unsold,home\n")
    ds = load_dataset(f"{log}?items={items}&categories=dept&category_sep=;&item_noun=product")
    assert ds.genres == ["clothes", "home", "kitchen", "light", "red"]
    assert ds.items.set_index("item_id").loc["A", "genres"] == "clothes|red"
    assert ds.title_of(0) == "Red shirt" and ds.item_noun == "product" and ds.category_noun == "categories"
    assert ds.genre_matrix.sum() == 5
    assert any("1 product of the item table never in the log" in n for n in ds.notes)
    # found by name, the separator found by itself
    auto = load_dataset(f"{log}?items={items}")
    assert auto.genres == ds.genres and auto.item_noun == "item"


def test_parquet_and_a_dataset_file_read_the_same(tmp_path):
    frame = pd.DataFrame(ROWS, columns=["visitor", "article", "value", "ts"])
    frame.to_parquet(tmp_path / "log.parquet")
    ds = load_dataset(str(tmp_path / "log.parquet"))
    csv = load_dataset(str(write_log(tmp_path / "log.csv")))
    assert ds.ratings.equals(csv.ratings)
    spec = LogSpec(tmp_path / "log.parquet", {"user": "visitor", "item": "article"}, k_core=0, item_noun="article")
    toml = write_toml(spec, tmp_path / "shop.toml")
    again = load_dataset(str(toml))
    assert again.ratings.equals(ds.ratings) and again.name == "shop" and again.item_noun == "article"
    assert parse_src(str(toml)).columns == {"user": "visitor", "item": "article"}


def test_recbole_atomic_files_load_from_their_inter_file(tmp_path):
    (tmp_path / "shop.inter").write_text(
        "user_id:token\titem_id:token\trating:float\ttimestamp:float\nu1\ti1\t5\t10\nu1\ti2\t3\t20\nu2\ti1\t4\t30\n"
    )
    (tmp_path / "shop.item").write_text(
        "item_id:token\tmovie_title:token_seq\tgenre:token_seq\ni1\tOne\tA B\ni2\tTwo\tB\n"
    )
    ds = load_dataset(str(tmp_path / "shop.inter"))
    assert (ds.n_users, ds.n_items, ds.n_ratings) == (2, 2, 3) and ds.genres == ["A", "B"]


def test_implicit_data_offers_no_rating_models_and_says_why(tmp_path):
    path = write_log(tmp_path / "clicks.csv", ("user", "item", "timestamp"), [(u, i, t) for u, i, _, t in ROWS])
    ds = load_dataset(str(path))
    assert ds.implicit and set(ds.ratings["rating"]) == {1.0}
    assert any("implicit" in n for n in ds.notes)
    why = not_offered(ds)
    assert set(why) == {"autorec", "embnet", "genre"} and "none" in why["autorec"]
    assert "autorec" not in models_for(ds) and "ease" in models_for(ds)
    with pytest.raises(DataError, match="needs a rating column"):
        load_dataset(f"{path}?threshold=3")
    no_time = write_log(tmp_path / "bare.csv", ("user", "item"), [(u, i) for u, i, _, _ in ROWS])
    assert any("row order is the time order" in n for n in load_dataset(str(no_time)).notes)


def test_threshold_k_core_and_duplicates_are_reported_with_counts(tmp_path):
    rows = [*ROWS, ("u1", "A", 4.0, 1_600_000_400)]  # a repeat of (u1, A)
    path = write_log(tmp_path / "log.csv", rows=rows)
    ds = load_dataset(str(path))
    assert ds.n_ratings == 5 and any("1 repeated (user, item) rows: kept the latest" in n for n in ds.notes)
    assert ds.ratings[(ds.ratings["user"] == 0) & (ds.ratings["item"] == 0)]["rating"].tolist() == [4.0]  # the latest
    kept = load_dataset(f"{path}?threshold=4")
    assert kept.ratings["rating"].min() >= 4 and any("2 interactions rated below it removed" in n for n in kept.notes)
    with pytest.raises(DataError, match="no interactions left"):  # u3 and C go, then u2 and B, then u1
        load_dataset(f"{path}?k_core=2")
    more = write_log(tmp_path / "more.csv", rows=[*rows, ("u3", "A", 3.0, 1_600_000_500), ("u4", "C", 3.0, 1)])
    core = load_dataset(f"{more}?k_core=2")  # u4 goes, so C has one, so u2 has one: u1 and u3 on A and B stay
    assert core.users["user_id"].tolist() == ["u1", "u3"] and core.items["item_id"].tolist() == ["A", "B"]
    assert "2-core: 3 interactions, 2 users and 1 item with fewer than 2 removed" in core.notes


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("user,item,rating\nu1,A,5\nu2,B,4\nu3,C,4,extra\n", "line 4: expected 3 fields, found 4"),
        ("user,item,rating\nu1,A,5\nu2,B,lots\n", "line 3: rating 'lots' is not a number"),
        ("user,item,timestamp\nu1,A,2020-01-01\nu2,B,yesterday\n", "line 3: time 'yesterday' is not a date"),
        ("user,item,rating\nu1,A,5\n,B,4\n", "line 3: missing user id"),
        ("", "the file is empty"),
    ],
)
def test_a_malformed_file_is_named_with_its_line_and_nothing_is_half_loaded(tmp_path, text, problem):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataError) as e:
        load_dataset(str(path))
    assert str(path) in str(e.value) and problem in str(e.value)
    with pytest.raises(DataError):
        save_dataset(LogSpec(path))
    assert own_datasets() == []  # no dataset file was written


def test_uploads_stay_in_their_folder_and_respect_access_and_the_cap(tmp_path):
    data = write_log(tmp_path / "log.csv").read_bytes()
    path = save_upload("../../etc/evil.csv", data)
    assert path.name == "evil.csv" and path.parent.name == "own" and path.read_bytes() == data
    with pytest.raises(DataError, match="expected a"):
        save_upload("payload.sh", data)
    with pytest.raises(AccessDenied, match="editor"):
        save_upload("log.csv", data, VIEWER)
    with pytest.raises(AccessDenied, match="RECSYS_MAX_UPLOAD_MB"):
        save_upload("big.csv", b"x" * (2 * 2**20), limits=Limits(upload_mb=1))
    toml, ds = save_dataset(LogSpec(path, name="../team"))
    assert toml.parent == path.parent and toml.name == "team.toml" and own_datasets() == [str(toml)]
    assert load_dataset(str(toml)).fingerprint == ds.fingerprint
    with pytest.raises(AccessDenied):
        save_dataset(LogSpec(path), VIEWER)


def test_detect_columns_refuses_an_unknown_role():
    with pytest.raises(DataError, match="unknown column role"):
        detect_columns(["a", "b"], {"colour": "a"})


def test_synth_log_is_shaped_like_movielens_and_loads(tmp_path, capsys):
    log, items = generate(Synth(users=2000, items=1500, interactions=200_000, seed=3))
    assert abs(len(log) - 200_000) <= 2_000  # within 1 % of the asked rows (heavy users exhaust the head)
    assert not log.duplicated(["user_id", "item_id"]).any()
    per_user = log.groupby("user_id").size().to_numpy()
    per_item = np.sort(log.groupby("item_id").size().to_numpy())[::-1]
    # MovieLens-1M: median 96 / mean 166 a user (mean over median 1.7), the top fifth of
    # items hold 65 % of ratings, the top 1 % hold 9 %
    assert 1.3 < per_user.mean() / np.median(per_user) < 2.2 and per_user.min() >= 5
    top20, top1 = per_item[: len(per_item) // 5].sum() / len(log), per_item[: len(per_item) // 100].sum() / len(log)
    assert 0.5 < top20 < 0.8 and 0.05 < top1 < 0.2
    assert set(np.unique(log["rating"])) <= {x / 2 for x in range(1, 11)}
    assert (log.groupby("user_id")["timestamp"].apply(lambda t: t.is_monotonic_increasing)).all()
    assert items["categories"].str.contains("|", regex=False).any()  # some items in two categories
    assert generate(Synth(2000, 1500, 200_000, seed=3))[0].equals(log)  # deterministic for its seed
    out = tmp_path / "s.csv"
    assert main(["data", "synth", "--users", "300", "--items", "200", "--interactions", "6000", "--out", str(out)]) == 0
    assert "use it with --dataset" in capsys.readouterr().out
    ds = load_dataset(str(tmp_path / "s.toml"))
    assert ds.n_users == 300 and len(ds.genres) == 12 and ds.title_of(0).startswith("Item ")
    with pytest.raises(DataError, match="at least"):
        generate(Synth(users=100, items=50, interactions=100))


def test_network_models_are_not_built_on_a_cpu_above_the_cells_and_are_on_a_gpu():
    from recsys_core.runs.catalog import CPU_CELLS, NETWORKS

    ds = load_dataset("synthetic:users=80,items=60,seed=2")
    assert not not_offered(ds, "cpu")  # MovieLens-sized: everything is built
    ds.users = pd.DataFrame({"user_id": [str(i) for i in range(CPU_CELLS // ds.n_items + 1)]})  # a wide catalogue
    why = not_offered(ds, "cpu")
    assert set(why) == set(NETWORKS) and "too slow on a CPU" in why["sasrec"]
    assert not not_offered(ds, "cuda") and not not_offered(ds)  # a GPU builds them; no device: the shipped runs
    assert models_for(ds, "cpu") == ["popularity", "genre", "ease", "mf"]


def test_the_pages_words_for_a_log():
    from app_pages._widgets import words

    ds = load_dataset("synthetic:users=80,items=60,seed=2")
    assert words(ds)["items"] == "movies" and words(ds)["category"] == "genre"
    ds.extra.update(item_noun="product", category_noun="categories")
    w = words(ds)
    assert (w["item"], w["Items"], w["categories"], w["category"]) == ("product", "Products", "categories", "category")
