"""Devices: names checked before anything is queued, mixed precision only where it applies,
the CLI's device listing and check, and a stored run reloaded through the CLI. Tests that
need CUDA are marked `cuda` and skip with the reason where torch sees no CUDA device."""

from __future__ import annotations

import functools
import json
import os

import numpy as np
import pytest
import torch

from recsys_core.cli import main
from recsys_core.errors import ConfigError
from recsys_core.jobs.manager import JobManager
from recsys_core.jobs.work import submit_training
from recsys_core.runs import catalog, zoo
from recsys_core.runs.store import Store
from recsys_core.training import devices
from recsys_core.training.devices import amp_dtype, amp_plan, describe_device, pick_device
from recsys_core.training.fitting import fit_model
from tests.helpers import planted, planted_split

syn = functools.partial(planted, 120, 80, 2)  # built at first use, once (tests.helpers)
syn_split = functools.partial(planted_split, 120, 80, 2)


QUICK = {"epochs": "2", "dim": "8", "batch_size": "256", "loss": "bce", "n_negatives": "2"}
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="torch sees no CUDA device here")


def test_device_names_are_checked_and_an_absent_device_is_refused():
    assert pick_device("cpu").type == "cpu" and pick_device("auto").type in ("cpu", "cuda", "mps")
    for bad in ("gpu", "cuda:x", "tpu"):
        with pytest.raises(ConfigError, match="auto, cpu, cuda, cuda:N or mps"):
            catalog.config_for("mf", {"device": bad})
    assert catalog.config_for("mf", {"device": "cuda:1"}).device == "cuda:1"  # spelled right: checked when queued
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="torch sees no CUDA device"):
            pick_device("cuda:0")
    with pytest.raises(ConfigError, match="cuda:0 .. cuda:|no CUDA device"):
        pick_device(f"cuda:{max(torch.cuda.device_count(), 1) + 7}")


def test_a_training_on_an_absent_device_is_refused_before_it_is_queued(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("CUDA is present: the refusal needs a machine without it")
    store, manager = Store(tmp_path), JobManager(Store(tmp_path))
    with pytest.raises(ConfigError, match="no CUDA device"):
        submit_training(manager, store, "synthetic:users=40,items=30,seed=1", "mf", {"device": "cuda"})
    assert store.runs() == [] and manager.jobs() == []
    src = "synthetic:users=40,items=30,seed=1"
    assert main(["train", "mf", "--dataset", src, "--quiet", "--set", "device=cuda"]) == 2  # the CLI too
    assert Store().runs() == []  # refused before a run row was written


def test_mixed_precision_on_the_cpu_is_bf16_where_the_cpu_has_it_and_says_so_where_not(monkeypatch):
    cpu = torch.device("cpu")
    assert amp_dtype(catalog.config_for("mf", {"amp": "fp16"}), torch.device("cuda")) == torch.float16
    assert amp_plan(catalog.config_for("mf", {"amp": "fp16"}), cpu) == (None, "fp16 asked, CUDA only: full precision")

    def losses(amp: str) -> tuple[list[float], str]:
        over = {"epochs": 2, "max_len": 10, "hidden": 16, "amp": amp, "device": "cpu"}
        m = zoo.make("sasrec", syn().n_users, syn().n_items, over)  # linear layers, attention, the full softmax
        h = fit_model(m, syn_split().train, syn_split())
        assert h.status == "done", h.message
        return [e["train_loss"] for e in h.epochs], h.device

    plain, said = losses("off")
    assert said.startswith("CPU, ") and "precision" not in said
    monkeypatch.setattr(devices, "cpu_bf16", lambda: False)  # a CPU without bf16: full precision, said
    assert amp_dtype(catalog.config_for("mf", {"amp": "bf16"}), cpu) is None
    same, said = losses("bf16")
    assert same == plain and said.endswith("bf16 asked, this CPU has no bf16 instructions: full precision")
    monkeypatch.setattr(devices, "cpu_bf16", lambda: True)  # one with them: bf16 products, close figures
    assert amp_dtype(catalog.config_for("mf", {"amp": "bf16"}), cpu) == torch.bfloat16
    low, said = losses("bf16")
    assert said.endswith("bf16 mixed precision") and low != plain
    assert np.allclose(low, plain, rtol=0.05), (low, plain)


def test_bf16_softmax_runs_only_a_sequential_models_full_softmax_in_bf16_and_says_where_it_cannot(monkeypatch):
    """`amp="bf16-softmax"`: the model in float32, its full softmax's products in bf16, where the
    CPU has bf16; another loss, another model or a CPU without bf16 trains in full precision
    and the run's device line says why."""
    cpu = torch.device("cpu")

    def fit(amp: str, **over) -> tuple[list[float], str, object]:
        over = {"epochs": 2, "max_len": 10, "hidden": 16, "amp": amp, "device": "cpu", **over}
        m = zoo.make("gru4rec", syn().n_users, syn().n_items, over)
        h = fit_model(m, syn_split().train, syn_split())
        assert h.status == "done", h.message
        return [e["train_loss"] for e in h.epochs], h.device, m

    plain, _, _ = fit("off")
    monkeypatch.setattr(devices, "cpu_bf16", lambda: True)
    low, said, m = fit("bf16-softmax")
    assert said.endswith(", bf16 softmax") and low != plain and np.allclose(low, plain, rtol=0.05), (low, plain)
    assert all(p.dtype == torch.float32 for p in m.parameters())
    assert amp_plan(catalog.config_for("gru4rec", {"amp": "bf16-softmax"}), cpu) == (None, "bf16 softmax")
    only = "bf16-softmax asked, only a sequential model's full softmax has it: full precision"
    assert amp_plan(catalog.config_for("mf", {"amp": "bf16-softmax"}), cpu) == (None, only)
    same, said, _ = fit("bf16-softmax", loss="softmax")
    assert said.endswith(only) and same == fit("off", loss="softmax")[0]
    monkeypatch.setattr(devices, "cpu_bf16", lambda: False)
    same, said, _ = fit("bf16-softmax")
    assert same == plain and said.endswith("bf16-softmax asked, this CPU has no bf16 instructions: full precision")


@pytest.mark.parametrize("name", ["ncf", "autorec", "cdae", "embnet", "sasrec", "gru4rec", "bert4rec"])
def test_every_neural_model_trains_on_the_cpu_in_bf16(name, monkeypatch):
    monkeypatch.setattr(devices, "cpu_bf16", lambda: True)  # emulated where the CPU lacks it: slow, same maths
    over = {"epochs": 1, "device": "cpu", "amp": "bf16"}
    if name == "ncf":
        over["pretrain_epochs"] = (1,)
    if name in ("sasrec", "gru4rec", "bert4rec"):
        over.update(max_len=10, hidden=16)
    cfg = catalog.config_for(name, over)
    m = zoo.make(name, syn().n_users, syn().n_items, cfg=cfg, item_features=syn().genre_matrix)
    h = fit_model(m, syn_split().train, syn_split())
    assert h.status == "done" and np.isfinite(h.epochs[-1]["train_loss"]), h.message
    assert h.device.endswith("bf16 mixed precision")


def test_devices_command_lists_what_torch_sees_and_checks(capsys):
    assert main(["devices"]) == 0
    out = capsys.readouterr().out
    assert f"torch {torch.__version__}" in out and "cpu (" in out
    src = "synthetic:users=60,items=40,seed=1"
    assert main(["devices", "--check", "--epochs", "1", "--dataset", src]) == 0
    out = capsys.readouterr().out
    for name in catalog.neural_models():
        assert f"{name:<8} cpu" in out
    if not torch.cuda.is_available():
        assert "no GPU here" in out


def test_cli_train_stores_a_run_that_recommend_and_evaluate_reload(capsys):
    src = "synthetic:users=120,items=150,seed=1"
    assert main(["train", "mf", "--dataset", src, "--json", "--quiet", "--set", "epochs=2", "--set", "dim=8"]) == 0
    trained = json.loads(capsys.readouterr().out)
    run_id = trained["run"]
    assert isinstance(run_id, int)
    assert main(["recommend", "--run", str(run_id), "--user", "5", "--json", "--k", "4"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 4 and {"movie_id", "title", "score"} <= set(rows[0])
    assert main(["evaluate", "--run", str(run_id), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["metrics"]["full"]["HR@10"] == pytest.approx(trained["metrics"]["HR@10"], abs=1e-9)  # the default
    assert main(["recommend", "--run", "9999", "--user", "5"]) == 2
    assert "no run 9999" in capsys.readouterr().err


@pytest.mark.cuda
@needs_cuda
def test_cpu_and_cuda_give_close_validation_figures_from_the_same_seed():
    figures = {}
    for device in ("cpu", "cuda"):
        m = zoo.make("mf", syn().n_users, syn().n_items, {**QUICK, "epochs": "4", "device": device})
        h = fit_model(m, syn_split().train, syn_split())
        assert h.status == "done", h.message
        figures[device] = h.epochs[-1]["NDCG@10"]
    assert abs(figures["cpu"] - figures["cuda"]) < 0.05, figures  # different random streams, same learning


@pytest.mark.cuda
@needs_cuda
@pytest.mark.parametrize("name", ["mf", "ncf", "autorec", "cdae", "embnet"])
def test_every_neural_model_trains_on_cuda_with_and_without_mixed_precision(name):
    for amp in ("off", "bf16", "fp16"):
        cfg = catalog.config_for(name, {"epochs": 1, "device": "cuda", "amp": amp})
        if name == "ncf":
            cfg = catalog.config_for(name, {"epochs": 1, "device": "cuda", "amp": amp, "pretrain_epochs": (1,)})
        m = zoo.make(name, syn().n_users, syn().n_items, cfg=cfg, item_features=syn().genre_matrix)
        h = fit_model(m, syn_split().train, syn_split())
        assert h.status == "done" and np.isfinite(h.epochs[-1]["train_loss"]), (amp, h.message)
        assert "cuda" in h.device


@pytest.mark.cuda
@needs_cuda
@pytest.mark.parametrize("name", ["sasrec", "gru4rec", "bert4rec"])
def test_every_sequential_model_trains_on_cuda_in_each_precision_it_offers(name):
    """The sequential models' CUDA paths: the dropout masks drawn as integers, attention and the
    GRU under autocast, and the full softmax alone in bf16 where the model has one."""
    for amp in ("off", "bf16", "fp16", "bf16-softmax"):
        cfg = catalog.config_for(name, {"epochs": 1, "max_len": 10, "hidden": 16, "device": "cuda", "amp": amp})
        m = zoo.make(name, syn().n_users, syn().n_items, cfg=cfg)
        h = fit_model(m, syn_split().train, syn_split())
        assert h.status == "done" and np.isfinite(h.epochs[-1]["train_loss"]), (amp, h.message)
        assert "cuda" in h.device and h.device.endswith(amp_plan(cfg, torch.device("cuda"))[1]), (amp, h.device)


def test_threads_are_one_per_core_whatever_the_load_and_can_be_set(monkeypatch):
    import recsys_core
    from recsys_core.sweeps.executors import PoolExecutor
    from recsys_core.training import devices

    cores = devices.usable_cores()
    monkeypatch.delenv("RECSYS_THREADS", raising=False)
    assert devices.thread_count() == cores  # the same count on a busy machine: the same figures
    assert describe_device("cpu").startswith(f"CPU, {cores} torch thread")
    monkeypatch.setenv("RECSYS_THREADS", "1")
    assert devices.use_threads() == 1 and torch.get_num_threads() == 1
    assert describe_device("cpu").startswith("CPU, 1 torch thread (RECSYS_THREADS)")
    monkeypatch.setenv("RECSYS_THREADS", "zero")
    with pytest.raises(ConfigError, match="whole number"):
        devices.thread_count()
    for asked in (1, 2, 64):
        pool = PoolExecutor(asked)
        assert pool.workers * pool.threads <= max(cores, 1)
    # OpenMP's waiting threads sleep after a short spin: set before torch loads, unless named
    assert os.environ["OMP_WAIT_POLICY"] and recsys_core.WAIT_POLICY.startswith(
        ("passive", os.environ["OMP_WAIT_POLICY"].lower())
    )


def test_small_steps_train_on_one_thread_unless_the_threads_are_named(monkeypatch):
    """GRU4Rec in small batches and NeuMF train on one thread (beside other work a second one
    waits more than it works), and the run says why; larger GRU4Rec steps and SASRec keep one
    thread a core; a count named in RECSYS_THREADS is kept."""
    from recsys_core.training.devices import SMALL_STEP_POSITIONS, useful_threads

    def gru(batch: int):
        over = {"epochs": 1, "max_len": 10, "hidden": 16, "device": "cpu", "batch_size": batch}
        return zoo.make("gru4rec", syn().n_users, syn().n_items, over)

    small, large = gru(SMALL_STEP_POSITIONS // 10), gru(SMALL_STEP_POSITIONS // 10 + 1)
    assert useful_threads("gru4rec", small.cfg) == 1 and useful_threads("gru4rec", large.cfg) is None
    assert useful_threads("gru4rec", {"batch_size": 16, "max_len": 50}) == 1  # a page's settings
    assert useful_threads("ncf", zoo.config_for("ncf")) == 1
    assert useful_threads("sasrec", zoo.config_for("sasrec")) is None
    cores = devices.usable_cores()
    monkeypatch.delenv("RECSYS_THREADS", raising=False)
    h = fit_model(small, syn_split().train, syn_split())
    assert h.status == "done" and torch.get_num_threads() == 1, h.message
    if cores > 1:
        assert h.device.startswith("CPU, 1 torch thread, fewer than the cores: its steps are too small"), h.device
    h = fit_model(large, syn_split().train, syn_split())
    assert torch.get_num_threads() == cores and h.device.startswith(f"CPU, {cores} torch thread"), h.device
    assert "fewer" not in h.device
    monkeypatch.setenv("RECSYS_THREADS", str(cores))  # named: kept, small steps or not
    h = fit_model(gru(SMALL_STEP_POSITIONS // 10), syn_split().train, syn_split())
    assert torch.get_num_threads() == cores and "fewer" not in h.device, h.device


@pytest.mark.slow
def test_the_wait_policy_is_a_short_spin_then_sleep_in_a_fresh_process_and_a_given_one_is_kept():
    import subprocess
    import sys

    import recsys_core

    code = (
        "import recsys_core, os, torch; "
        "print(recsys_core.WAIT_POLICY, '|', os.environ.get('OMP_WAIT_POLICY'), os.environ.get('GOMP_SPINCOUNT'))"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}

    def said(**more) -> str:
        return subprocess.run(
            [sys.executable, "-c", code], env={**env, **more}, capture_output=True, text=True, check=True
        ).stdout.strip()

    assert said() == f"passive after {recsys_core.SPIN_COUNT} spins | PASSIVE {recsys_core.SPIN_COUNT}"
    # a person's setting of either is never replaced, nor overridden by a spin count of ours
    assert said(OMP_WAIT_POLICY="ACTIVE") == "active | ACTIVE None"
    assert said(OMP_WAIT_POLICY="PASSIVE") == "passive | PASSIVE None"
    assert said(GOMP_SPINCOUNT="0") == "unset after 0 spins | None 0"
    first = "import torch, recsys_core; print(recsys_core.WAIT_POLICY)"
    out = subprocess.run([sys.executable, "-c", first], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.startswith("unknown")


def test_returning_freed_memory_is_off_unless_asked(monkeypatch):
    import platform

    from recsys_core.training import devices

    monkeypatch.setattr(devices, "_MALLOC_SET", None)
    monkeypatch.delenv("RECSYS_MMAP_THRESHOLD", raising=False)
    assert devices.return_freed_memory() is False
    monkeypatch.setattr(devices, "_MALLOC_SET", None)
    monkeypatch.setenv("RECSYS_MMAP_THRESHOLD", str(64 * 2**20))  # large: harmless to the rest of the suite
    glibc = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert devices.return_freed_memory() is glibc


def test_evaluate_a_stored_run_under_the_protocol_asked_and_refuses_what_needs_a_new_fit(capsys):
    src = "synthetic:users=120,items=150,seed=1"
    assert main(["train", "mf", "--dataset", src, "--json", "--quiet", "--set", "epochs=2", "--set", "dim=8"]) == 0
    run = str(json.loads(capsys.readouterr().out)["run"])
    assert main(["evaluate", "--run", run, "--json"]) == 0  # no --protocol: the run's own (full)
    assert set(json.loads(capsys.readouterr().out)["metrics"]) == {"full"}
    # another protocol on the split it was trained on: scored, not silently replaced by its own
    assert main(["evaluate", "--run", run, "--protocol", "loo-uniform", "--json"]) == 0
    assert set(json.loads(capsys.readouterr().out)["metrics"]) == {"loo-uniform"}
    # another split, or settings of a fit: refused with a message, nothing scored
    assert main(["evaluate", "--run", run, "--protocol", "temporal"]) == 2
    assert "needs its own fit" in capsys.readouterr().err
    assert main(["evaluate", "--run", run, "--set", "dim=16"]) == 2
    assert "would need a new fit" in capsys.readouterr().err
    assert main(["recommend", "--run", run, "--user", "5", "--set", "dim=16"]) == 2
    assert "would need a new fit" in capsys.readouterr().err
    assert main(["evaluate", "ease", "--run", run]) == 2  # a model name that is not the run's
    assert "is a mf run, not ease" in capsys.readouterr().err
    assert main(["evaluate", "mf", "--run", run, "--json"]) == 0  # the run's own name is no contradiction
    capsys.readouterr()
    # `all`: what the run's split allows, and a line naming what it left out
    assert main(["evaluate", "--run", run, "--protocol", "all", "--json"]) == 0
    captured = capsys.readouterr()
    assert "full" in json.loads(captured.out)["metrics"] and "temporal" not in json.loads(captured.out)["metrics"]
    assert "left out" in captured.err and "temporal" in captured.err
