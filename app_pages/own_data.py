"""Your data: a team's own interaction log (CSV, TSV or Parquet), uploaded or found on the
server, previewed with the columns found, corrected where needed, then loaded in full and
offered in the dataset picker, where every page reads it in its own words."""

import os
from pathlib import Path

import streamlit as st

from app_pages._shared import caller, refused
from app_pages._widgets import dataset_label, words
from recsys_core.data.logs import preview, read_table
from recsys_core.data.logspec import LOG_SUFFIXES, ROLES, LogSpec, is_log
from recsys_core.errors import DataError, RecsysError
from recsys_core.jobs.access import AccessDenied, Limits
from recsys_core.jobs.uploads import own_dir, save_dataset, save_upload
from recsys_core.runs.catalog import not_offered
from recsys_core.training.devices import pick_device

NONE = "(none)"
TYPES = [s.lstrip(".") for s in LOG_SUFFIXES]

st.title("Your data")
st.caption(
    "Explore your own interactions: a CSV, TSV or Parquet file with a user, an item and (ideally) a time column, "
    "perhaps a rating; and, if you have one, an item table with names and categories. Nothing is fetched: the "
    "file stays on this server, in the data folder's `own/`."
)
limits = Limits.from_env()


def server_files() -> list[str]:
    """Log files this server offers: RECSYS_DATASETS entries that are files, and earlier uploads."""
    listed = [s.strip() for s in os.environ.get("RECSYS_DATASETS", "").split(";") if s.strip()]
    files = [s for s in listed if is_log(s) and not s.lower().endswith(".toml")]
    folder = own_dir()
    if folder.is_dir():
        files += [str(p) for p in sorted(folder.iterdir()) if p.suffix.lower() in LOG_SUFFIXES]
    return list(dict.fromkeys(files))


def pick_file(label: str, key: str, optional: bool = False) -> Path | None:
    """An upload (written into own/) or a file on the server; None until there is one."""
    where = st.radio(
        label,
        ["Upload a file", "A file on this server"],
        key=f"{key}_where",
        horizontal=True,
        help=f"Uploads up to {limits.upload_mb:,} MB (RECSYS_MAX_UPLOAD_MB).",
    )
    if where == "Upload a file":
        up = st.file_uploader(
            f"{label} file",
            type=TYPES,
            key=f"{key}_upload",
            label_visibility="collapsed",
            help=f"At most {limits.upload_mb:,} MB on this server.",
        )
        if up is None:
            return None
        saved = st.session_state.get(f"{key}_saved")
        if saved is not None and saved[0] == up.file_id:  # written on an earlier rerun: not again
            return Path(saved[1])
        try:
            path = save_upload(up.name, up.getvalue(), caller(), limits)
        except (AccessDenied, DataError) as e:
            refused(e)
            return None
        st.session_state[f"{key}_saved"] = (up.file_id, str(path))
        return path
    files = server_files()
    if not files:
        st.caption("No file on this server yet: list some in RECSYS_DATASETS (separated by `;`), or upload one.")
        return None
    options = ([NONE] if optional else []) + files
    chosen = st.selectbox(f"{label} on this server", options, key=f"{key}_file", format_func=os.path.basename)
    return None if chosen == NONE else Path(chosen)


st.subheader("1. The interactions")
log_path = pick_file("Interactions", "log")
if log_path is None:
    st.stop()
try:
    rows, found = preview(log_path)
except DataError as e:
    st.error(str(e))
    st.stop()
st.markdown(f"**{log_path.name}**: the first rows.")
st.dataframe(rows, hide_index=True, width="stretch")

st.subheader("2. What each column is")
st.caption("Found by their names; change any that is wrong. Without a rating column every row counts as a positive.")
columns = [str(c) for c in rows.columns]
cols = st.columns(4)
mapping = {}
for box, role in zip(cols, ROLES):
    options = ([NONE] if role in ("time", "rating") else []) + columns
    default = found.get(role, NONE if role in ("time", "rating") else columns[0])
    key = f"map_{role}_{log_path.name}"
    if st.session_state.get(key) not in options:
        st.session_state[key] = default
    with box:
        choice = st.selectbox(role, options, key=key, help=f"the column that holds the {role}")
    if choice != NONE:
        mapping[role] = choice
if mapping.get("user") == mapping.get("item"):
    st.error("The user and the item must be two different columns.")
    st.stop()

st.subheader("3. The item table (optional)")
item_path = pick_file("Item table", "items", optional=True)
item_columns: dict = {}
category_sep = None
if item_path is not None:
    try:
        item_rows = read_table(item_path, nrows=8).to_pandas()
    except DataError as e:
        st.error(str(e))
        st.stop()
    st.dataframe(item_rows, hide_index=True, width="stretch")
    names = [str(c) for c in item_rows.columns]
    a, b, c, d = st.columns(4)
    item_columns["item"] = a.selectbox("item id", names, key=f"items_key_{item_path.name}")
    name_col = b.selectbox("name", [NONE, *names], key=f"items_name_{item_path.name}", help="shown instead of the id")
    if name_col != NONE:
        item_columns["name"] = name_col
    cats = c.multiselect("categories", names, key=f"items_cats_{item_path.name}", help="columns of categories")
    if cats:
        item_columns["categories"] = cats
    category_sep = d.text_input("separator in a cell", value="|", max_chars=3, key="items_sep") or None

st.subheader("4. Options")
a, b, c, d = st.columns(4)
name = a.text_input("Dataset name", value=log_path.stem, max_chars=60, key=f"ds_name_{log_path.name}")
noun = b.text_input("What an item is", value="item", max_chars=30, help="e.g. product, song, article", key="ds_noun")
k = c.number_input("k-core", min_value=0, max_value=1000, value=0, step=1, help="keep users and items with at least k")
threshold = None
if "rating" in mapping:
    raw = d.text_input("Rating threshold", value="", help="keep only ratings at or above this (empty: keep all)")
    if raw.strip():
        try:
            threshold = float(raw)
        except ValueError:
            d.error(f"{raw!r} is not a number")
            st.stop()

spec = LogSpec(
    log_path,
    mapping,
    item_path,
    item_columns,
    category_sep if item_columns.get("categories") else None,
    threshold,
    int(k),
    noun.strip() or "item",
    name.strip() or log_path.stem,
)
if st.button("Load this data", type="primary", icon=":material/upload:"):
    try:
        with st.spinner(f"Reading {log_path.name} in full ..."):
            toml, ds = save_dataset(spec, caller())
    except RecsysError as e:  # a malformed file: its name, line and problem; nothing was added
        refused(e)
        st.stop()
    w = words(ds)
    st.success(
        f"Loaded **{ds.name}**: {ds.n_ratings:,} interactions, {ds.n_users:,} users, {ds.n_items:,} {w['items']}"
        f"{f', {len(ds.genres)} categories' if ds.genres else ''}."
    )
    for note in ds.notes:
        st.caption(f":material/info: {note}")
    for model, why in not_offered(ds, pick_device().type).items():
        st.caption(f":material/block: **{model}** is not offered on it: it {why}.")
    st.session_state["_switch_dataset"] = str(toml)  # the picker moves to it on the next page
    st.page_link("app_pages/home.py", label=f"Open {dataset_label(str(toml))} on Home", icon=":material/home:")
