"""Evaluation: how a model is judged, the same way for every model.

Holds the protocol records (`protocols`: split, candidates, the validation figure a
training monitors and its direction), the leave-one-out and ratings splits (`splits`), the
global temporal split (`temporal`), the sampled protocols' candidates (`candidates`), every
metric and the per-user ranks (`metrics`), paired tests and segments (`paired`), and the one
scoring pass that computes every figure from a model's scores (`scoring`).

May import: the package's foundation (config, errors, paths), `data` and `models` (the
scoring pass asks a `Recommender` for scores). Everything here but `scoring` is torch-free,
and this file imports nothing, so a torch-free reader (the results, the CLI's help) can use
the records, splits and metrics.
"""
