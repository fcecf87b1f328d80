"""Sweeps: many runs of one model over its config, resumable.

Holds the sweep record and its file format (`spec`: values, points, grids, seeded random or
TPE searches, validated when read), the sweeps the project ships (`shipped`) and the write-ups
they come from (`studies`), search and pruning (`search`: Optuna's TPE, the median pruner),
the executors and the one sweep loop (`executors`: in this process or a process pool) and the
Ray cluster's executor (`ray_cluster`; the driver alone writes the store).

May import: the foundation, `data`, `models`, `evaluation`, `training` and `runs` (each point
is a run through the run life).
"""
