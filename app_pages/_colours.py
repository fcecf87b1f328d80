"""Colours on the pages: one colour per genre (or category) on every chart and map."""

import plotly.express as px

# One colour per genre on every page and chart: Kelly's colours of maximum contrast (legible
# on a projector), fixed per genre name so Drama is the same blue everywhere.
GENRE_COLOURS = {
    "Action": "#BE0032",
    "Adventure": "#F38400",
    "Animation": "#F3C300",
    "Children's": "#E68FAC",
    "Comedy": "#A1CAF1",
    "Crime": "#882D17",
    "Documentary": "#C2B280",
    "Drama": "#0067A5",
    "Fantasy": "#604E97",
    "Film-Noir": "#2B3D26",
    "Horror": "#875692",
    "Musical": "#DCD300",
    "Mystery": "#DA16FF",
    "Romance": "#F99379",
    "Sci-Fi": "#008856",
    "Thriller": "#222222",
    "War": "#654522",
    "Western": "#F6A600",
    "unknown": "#848482",
    "IMAX": "#8DB600",
    "(none)": "#C8C8C8",  # a movie without genres (the map's primary genre)
}
_ALIASES = {"Children": "Children's", "(no genres listed)": "(none)"}
_SPARE = ["#E25822", "#B3446C", "#5F9EA0", "#DA16FF", "#1616A7", "#6C7C32", "#FC0080", "#00A08B", "#511CFB"]


def genre_colours(genres) -> dict[str, str]:
    """genre -> colour for a dataset's genres: the fixed colour of a known genre, and spare
    colours, in order, for genres this palette does not know."""
    out, spare = {}, iter([*_SPARE, *px.colors.qualitative.Alphabet])  # a log's own categories: 35 distinct
    for g in list(genres) + ["(none)"]:
        known = GENRE_COLOURS.get(_ALIASES.get(g, g))
        out[g] = known if known is not None else next(spare, "#999999")
    return out
