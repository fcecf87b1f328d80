"""Every loader on small files the tests write, every bad input, the real counts."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from recsys_core.cli import main
from recsys_core.data import load_dataset
from recsys_core.data.loaders import ML100K_GENRES
from recsys_core.errors import DataError

# ------------------------------------------------------------------ fixture writers

U_ITEM = [
    "1|Toy Story (1995)|01-Jan-1995||http://x|"
    + "|".join("1" if g in ("Animation", "Comedy") else "0" for g in ML100K_GENRES),
    "2|GoldenEye (1995)|01-Jan-1995||http://x|" + "|".join("1" if g == "Action" else "0" for g in ML100K_GENRES),
    "3|Four Rooms (1995)|01-Jan-1995||http://x|" + "|".join("1" if g == "Thriller" else "0" for g in ML100K_GENRES),
    "4|Strange Title Without Year|||http://x|" + "|".join("1" if g == "Drama" else "0" for g in ML100K_GENRES),
]
U_DATA = ["1\t1\t5\t100", "1\t2\t3\t200", "2\t1\t4\t150", "2\t3\t2\t160", "3\t4\t1\t170"]
U_USER = ["1|24|M|technician|85711", "2|53|F|other|94043", "3|23|M|writer|32067"]


def write(folder: Path, files: dict[str, list[str] | str], encoding="latin-1", eol="\n") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, lines in files.items():
        text = lines if isinstance(lines, str) else eol.join(lines) + eol
        (folder / name).write_bytes(text.encode(encoding))
    return folder


def ml100k(tmp_path, **override) -> Path:
    files = {"u.item": U_ITEM, "u.data": U_DATA, "u.user": U_USER}
    files.update(override)
    return write(tmp_path / "ml-100k", files)


def zip_folder(folder: Path, dest: Path) -> Path:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in folder.iterdir():
            zf.write(p, f"{folder.name}/{p.name}")
    return dest


# ------------------------------------------------------------------ loaders


def test_grouplens_ml100k_folder(tmp_path):
    ds = load_dataset(ml100k(tmp_path))
    assert (ds.n_users, ds.n_items, ds.n_ratings, len(ds.genres)) == (3, 4, 5, 19)
    assert ds.items["title"].tolist()[0] == "Toy Story (1995)"
    assert ds.items["year"].tolist()[:3] == [1995, 1995, 1995]
    assert ds.items["year"].isna().tolist()[3]  # unparseable year kept, empty
    toy = ds.genre_matrix[0]
    assert [ds.genres[j] for j in np.flatnonzero(toy)] == ["Animation", "Comedy"]
    assert ds.users.loc[1, "occupation"] == "other"
    assert ds.ratings["rating"].dtype == np.float32
    # user 1 rated item 1 then 2, in time order
    r = ds.ratings[ds.ratings["user"] == 0]
    assert r["item"].tolist() == [0, 1] and r["timestamp"].tolist() == [100, 200]
    assert any("without a parseable year" in n for n in ds.notes)


def test_grouplens_ml100k_zip_equals_folder(tmp_path):
    folder = ml100k(tmp_path)
    z = zip_folder(folder, tmp_path / "ml-100k.zip")
    a, b = load_dataset(folder, use_cache=False), load_dataset(z, use_cache=False)
    assert a.fingerprint == b.fingerprint


def test_ml1m_format(tmp_path):
    folder = write(
        tmp_path / "ml-1m",
        {
            "movies.dat": ["1::Toy Story (1995)::Animation|Children's|Comedy", "2::Jumanji (1995)::Adventure"],
            "ratings.dat": ["1::1::5::978300760", "1::2::3::978302109", "2::1::4::978301968"],
            "users.dat": ["1::F::1::10::48067", "2::M::56::16::70072"],
        },
    )
    ds = load_dataset(folder)
    assert (ds.n_users, ds.n_items, ds.n_ratings) == (2, 2, 3)
    assert ds.genres == ["Adventure", "Animation", "Children's", "Comedy"]
    assert ds.users["age"].tolist() == ["Under 18", "56+"]
    assert ds.users["occupation"].tolist() == ["K-12 student", "self-employed"]


def test_mllatest_csv_with_quoted_titles_and_no_genres(tmp_path):
    folder = write(
        tmp_path / "ml-latest-small",
        {
            "movies.csv": [
                "movieId,title,genres",
                '1,"American President, The (1995)",Comedy|Drama|Romance',
                "2,Some Film (2001),(no genres listed)",
            ],
            "ratings.csv": ["userId,movieId,rating,timestamp", "1,1,4.5,964982703", "1,2,0.5,964981247"],
        },
        encoding="utf-8",
    )
    ds = load_dataset(folder)
    assert ds.items["title"].tolist() == ["American President, The (1995)", "Some Film (2001)"]
    assert ds.items["genres"].tolist() == ["Comedy|Drama|Romance", ""]
    assert ds.ratings["rating"].tolist() == [0.5, 4.5]  # time order
    assert ds.demographics == []


def test_netflix_format_has_no_genres(tmp_path):
    folder = write(
        tmp_path / "netflix",
        {
            "combined_data_1.txt": ["1:", "1488844,3,2005-09-06", "822109,5,2005-05-13", "2:", "1488844,4,2005-10-01"],
            "movie_titles.csv": ["1,2003,Dinosaur Planet", "2,2004,Isle of Man TT 2004 Review, Part 2"],
        },
    )
    ds = load_dataset(folder)
    assert (ds.n_users, ds.n_items, ds.n_ratings) == (2, 2, 3)
    assert not ds.has_genres and ds.genre_matrix.shape == (2, 0)
    assert ds.items["title"].tolist() == ["Dinosaur Planet (2003)", "Isle of Man TT 2004 Review, Part 2 (2004)"]


def test_recbole_atomic_crlf(tmp_path):
    folder = write(
        tmp_path / "ml-1m",
        {
            "ml-1m.inter": [
                "user_id:token\titem_id:token\trating:float\ttimestamp:float",
                "1m_1\tToy Story (1995)\t5\t9",
            ],
            "ml-1m.item": [
                "item_id:token\tmovie_title:token\trelease_year:float\tgenre:token",
                "Toy Story (1995)\tToy Story\t1995\tAnimation Children's Comedy",
            ],
            "ml-1m.user": [
                "user_id:token\tage:float\tgender:token\toccupation:float\tzip_code:token",
                "1m_1\t1\tF\t10\t48067",
            ],
        },
        encoding="utf-8",
        eol="\r\n",
    )
    ds = load_dataset(folder)
    assert ds.users["user_id"].tolist() == ["1"]  # cross-domain prefix stripped
    assert ds.items["title"].tolist() == ["Toy Story (1995)"]
    assert ds.genres == ["Animation", "Children's", "Comedy"]
    assert ds.users["zip"].tolist() == ["48067"]  # no stray carriage return


def test_duplicates_keep_latest_and_are_reported(tmp_path):
    data = [*U_DATA, "1\t1\t2\t300", "1\t1\t4\t50"]
    ds = load_dataset(ml100k(tmp_path, **{"u.data": data}))
    assert ds.n_ratings == 5
    r = ds.ratings[(ds.ratings["user"] == 0) & (ds.ratings["item"] == 0)]
    assert r["rating"].tolist() == [2.0]  # timestamp 300 is the latest
    assert any("2 duplicate (user, movie) rows" in n for n in ds.notes)


def test_cache_roundtrip_and_invalidation(tmp_path):
    folder = ml100k(tmp_path)
    a = load_dataset(folder)
    b = load_dataset(folder)  # from the parquet cache
    assert a.fingerprint == b.fingerprint and a.ratings.equals(b.ratings)
    (folder / "u.data").write_text("\n".join([*U_DATA, "3\t1\t5\t999"]) + "\n")
    c = load_dataset(folder)
    assert c.n_ratings == 6 and c.fingerprint != a.fingerprint


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "override, message, line",
    [
        ({"u.data": ["1\t1\t5\t100", "1\t2\tfive\t200"]}, "rating 'five' is not a number", 2),
        ({"u.data": ["1\t1\t5\t100", "bob\t2\t4\t200"]}, "user id 'bob' is not a number", 2),
        ({"u.data": ["1\t1\t5\t100", "1\t2\t7\t200"]}, "rating 7 is out of range [0.5, 5]", 2),
        ({"u.data": ["1\t1\t5\t100", "1\t99\t4\t200"]}, "rating for unknown movie id '99'", 2),
        ({"u.data": ["1,1,5,100", "1,2,4,200"]}, "wrong separator", 1),
        ({"u.data": ["1\t1\t5\t100", "1\t2"]}, "missing value for rating", 2),
        ({"u.data": ""}, "the file is empty", None),
        ({"u.data": ["1\t1\t5\t100", "1\t2\t3\t200\t7"]}, "malformed row", None),
    ],
)
def test_bad_ratings_file(tmp_path, override, message, line):
    with pytest.raises(DataError) as e:
        load_dataset(ml100k(tmp_path, **override))
    assert message in str(e.value)
    assert "u.data" in str(e.value)
    if line is not None:
        assert e.value.line == line


def test_missing_file(tmp_path):
    folder = ml100k(tmp_path)
    (folder / "u.item").unlink()
    with pytest.raises(DataError, match="missing file u.item"):
        load_dataset(folder)


def test_no_recognised_files(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "notes.txt").write_text("hi")
    with pytest.raises(DataError, match="no MovieLens files found"):
        load_dataset(tmp_path / "x")


def test_truncated_and_corrupt_zip(tmp_path):
    z = zip_folder(ml100k(tmp_path), tmp_path / "ml-100k.zip")
    raw = z.read_bytes()
    (tmp_path / "trunc.zip").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match="not a readable zip"):
        load_dataset(tmp_path / "trunc.zip")
    # flip bytes inside the compressed data: the directory is intact, the member is not
    bad = bytearray(raw)
    for i in range(60, 120):
        bad[i] ^= 0xFF
    (tmp_path / "corrupt.zip").write_bytes(bytes(bad))
    with pytest.raises(DataError, match="truncated or corrupt"):
        load_dataset(tmp_path / "corrupt.zip")


def test_bad_input_leaves_no_cache(tmp_path):
    import os

    folder = ml100k(tmp_path, **{"u.data": ["1\t1\tx\t1"]})
    with pytest.raises(DataError):
        load_dataset(folder)
    cache = Path(os.environ["RECSYS_DATA"]) / "cache"
    assert not cache.exists() or not any(cache.iterdir())


def test_cli_bad_input_exits_2_without_traceback(tmp_path, capsys):
    folder = ml100k(tmp_path, **{"u.data": ["1\t1\t9\t1"]})
    assert main(["data", "info", "--dataset", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "u.data, line 1: rating 9 is out of range" in err and "Traceback" not in err


def test_cli_info_json(tmp_path, capsys):
    assert main(["data", "info", "--dataset", str(ml100k(tmp_path)), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert {k: info[k] for k in ("n_users", "n_items", "n_ratings", "n_genres")} == {
        "n_users": 3,
        "n_items": 4,
        "n_ratings": 5,
        "n_genres": 19,
    }
    assert info["rating_min"] == 1.0 and info["rating_max"] == 5.0
    assert info["density"] == pytest.approx(5 / 12, abs=1e-6)
    assert len(info["fingerprint"]) == 16


def test_named_dataset_not_fetched_says_what_to_do():
    with pytest.raises(DataError, match="data fetch ml-1m"):
        load_dataset("ml-1m")


# ------------------------------------------------------------------ real data


def test_real_ml100k_counts(real_data):
    ds = load_dataset("ml-100k")
    assert (ds.n_users, ds.n_items, ds.n_ratings, len(ds.genres)) == (943, 1682, 100_000, 19)
    assert ds.title_of(0) == "Toy Story (1995)"
    assert set(ds.demographics) == {"age", "gender", "occupation", "zip"}


def test_real_ml1m_counts(monkeypatch):
    from tests.conftest import REAL_DATA

    if not (REAL_DATA / "ml-1m" / "FETCHED.json").exists():
        pytest.skip("ml-1m not fetched (python -m recsys_core data fetch ml-1m)")
    monkeypatch.setenv("RECSYS_DATA", str(REAL_DATA))
    ds = load_dataset("ml-1m")
    assert (ds.n_users, ds.n_items, ds.n_ratings) == (6040, 3706, 1_000_209)
    assert ds.extra["movie_rows"] == 3883
    assert ds.users["user_id"].iat[0] == "1"
