"""Runs: a config becomes a stored run, and stored runs become what the pages read.

Holds the run store (`store`: SQLite rows, with the artifact files of `files`), the shipped
models' catalog and run keys (`catalog`, torch-free) and their classes (`zoo`), one fit and
its evaluation under the asked protocols (`experiment`), the run life (`life`: a run created,
started, its epochs recorded as they land, ended with its figures or a reason), what a run
keeps beside its row and how a stored run is rebuilt (`artifacts`), the build of the shipped
models (`build`), the results read model the pages draw (`results`, with its `reports` over
sweeps and runs, torch-free), embedding maths (`embeddings`), what the store says for the
Findings page (`findings`) and the export to MLflow and TensorBoard (`export`).

May import: the foundation, `data`, `models`, `evaluation` and `training`. This file
imports nothing: the torch-free readers (catalog, results, reports, findings, store) stay
torch-free.
"""
