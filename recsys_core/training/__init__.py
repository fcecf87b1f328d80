"""Training: how a neural model learns.

Holds the objectives that turn interactions into batches and losses (`objectives`, with
their interface in `batches`, the sequential models' in `sequences`, the shared `losses`,
the training negatives in `sampling`), the one training loop with early stopping and
its callbacks (`loop`), the fitting recipes (`fitting.fit_model`: the one entry for fitting
any model, NeuMF's pre-training included), the device and thread policy (`devices`) and the
cross-check of every neural model on every device against the CPU (`device_check`).

May import: the foundation (config, errors, paths), `data`, `models` and `evaluation`
(validation during a fit is scored by the evaluation's scoring pass). Never the run store:
a fit knows nothing of where its run is kept.
"""
