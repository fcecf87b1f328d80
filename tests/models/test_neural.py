"""Neural models and the training loop on planted synthetic data (small, seeded, fast)."""

from __future__ import annotations

import functools
import json
import threading
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from recsys_core.cli import main
from recsys_core.config import config_hash
from recsys_core.errors import ConfigError
from recsys_core.evaluation.scoring import evaluate
from recsys_core.evaluation.splits import ratings_split
from recsys_core.models.configs import LOSSES, EmbNetConfig
from recsys_core.models.neural import NeuralRecommender
from recsys_core.runs import zoo
from recsys_core.training.fitting import fit_model
from recsys_core.training.loop import Callback, EarlyStopping, WeightAverage, lr_schedule, validate
from recsys_core.training.objectives import OBJECTIVES
from tests.helpers import planted, planted_split

syn, syn_split = planted, planted_split  # built at first use, once (tests.helpers)


@functools.cache
def feats():
    """Built at first use, once for this module (never at import)."""
    return syn().genre_matrix


FAST = {
    "mf": {"epochs": "8", "batch_size": "512", "lr": "0.01", "dim": "16"},
    "ncf": {"epochs": "8", "batch_size": "512", "lr": "0.005", "mf_dim": "8", "layers": "32-16-8"},
    "autorec": {"epochs": "25", "batch_size": "32", "lr": "0.003", "layers": "64"},
    "cdae": {"epochs": "25", "batch_size": "32", "lr": "0.003", "hidden": "32"},
    "embnet": {"epochs": "8", "batch_size": "256", "lr": "0.005", "dim": "16", "hidden": "32"},
}


def fitted(name: str, **extra):
    m = zoo.make(name, syn().n_users, syn().n_items, {**FAST[name], **extra}, item_features=feats())
    h = fit_model(m, syn_split().train, syn_split())
    return m, h


class Fits(Callback):
    """Records each training a run makes: its `on_train_begin` info, with its epoch rows."""

    def __init__(self, seen: list):
        self.seen = seen

    def on_train_begin(self, info):
        self.seen.append(info)

    def on_epoch_end(self, row):
        self.seen[-1].setdefault("rows", []).append(row)


@pytest.fixture(scope="module")
def popularity_hr():
    m = zoo.make("popularity", syn().n_users, syn().n_items)
    fit_model(m, syn_split().train)
    return evaluate(m, syn_split(), "loo-uniform")["HR@10"]


@pytest.mark.parametrize("name", ["mf", "ncf", "cdae", "autorec", "embnet"])
def test_model_contract_and_learning(name, popularity_hr):
    m, h = fitted(name)
    assert h.status == "done" and h.epochs
    users = torch.arange(12)
    assert tuple(m.score(users).shape) == (12, syn().n_items)
    cand = torch.as_tensor(np.tile(np.arange(9), (12, 1)))
    assert tuple(m.score(users, cand).shape) == (12, 9)
    items, _ = m.recommend(np.arange(12), k=10)
    seen = syn_split().train.binary.toarray().astype(bool)
    assert not seen[np.arange(12)[:, None], items].any()
    emb = m.item_embeddings()
    assert emb is not None and emb.shape[0] == syn().n_items
    if name in ("mf", "ncf", "cdae"):  # implicit rankers must clearly beat popularity
        hr = evaluate(m, syn_split(), "loo-uniform")["HR@10"]
        assert hr > popularity_hr + 0.1, (name, hr, popularity_hr)
    # rating models learn the planted ratings: test_rating_models_on_the_ratings_protocol


@pytest.mark.parametrize("name,loss", [("mf", "bce"), ("mf", "bpr"), ("ncf", "bpr"), ("ncf", "softmax")])
def test_every_loss_learns_the_planted_structure(name, loss, popularity_hr):
    """The shipped losses (MF: softmax, NeuMF: BCE) in test_model_contract_and_learning."""
    m, h = fitted(name, loss=loss)
    assert h.status == "done" and m.objective == LOSSES[loss]
    assert evaluate(m, syn_split(), "loo-uniform")["HR@10"] > popularity_hr + 0.1, (name, loss)
    # the validation loss is the model's own loss, on the held-out items: below an untrained model's
    untrained = OBJECTIVES[LOSSES[loss]]()
    untrained.model = zoo.make(name, syn().n_users, syn().n_items, {**FAST[name], "loss": loss}, item_features=feats())
    start = untrained.valid_loss(syn_split())
    assert min(e["valid_loss"] for e in h.epochs) < start - 0.05, (start, h.epochs)


class _ItemScore(torch.nn.Module):
    """score(u, i) = i: losses with known logits."""

    def forward(self, users, items):
        return items.float()

    def forward_candidates(self, users, items):
        return items.float()


def _objective(kind, **cfg):
    obj = OBJECTIVES[kind]()
    obj.model, obj.gen, obj.device = _ItemScore(), torch.Generator().manual_seed(0), torch.device("cpu")
    obj.cfg = SimpleNamespace(diversity_weight=0.0, user_dropout=0.0, **cfg)
    obj.genre_unit = None
    return obj


def test_bpr_and_sampled_softmax_losses_hand_computed():
    users, pos, neg = torch.tensor([0, 1]), torch.tensor([2, 1]), torch.tensor([[0, 1], [3, 0]])
    # sampled softmax: positive logit against its own negatives, weighted by recency
    want = [-np.log(np.exp(2) / (np.exp(2) + np.exp(0) + np.exp(1))), -np.log(np.exp(1) / (np.exp(1) + np.exp(3) + 1))]
    got = _objective("softmax").loss((users, pos, neg, None))
    assert float(got) == pytest.approx(np.mean(want), rel=1e-6)
    w = torch.tensor([0.5, 1.5])
    weighted = (0.5 * want[0] + 1.5 * want[1]) / 2  # a mean of weighted losses (recency weights average 1)
    assert float(_objective("softmax").loss((users, pos, neg, w))) == pytest.approx(weighted, rel=1e-6)
    # BPR: one (positive, negative) pair per row
    got = _objective("bpr").loss((users, pos, neg[:, 0], None))
    assert float(got) == pytest.approx(np.mean([np.log1p(np.exp(-2)), np.log1p(np.exp(2))]), rel=1e-6)


@pytest.mark.parametrize(
    "name,extra",
    [
        ("mf", {}),
        ("ncf", {}),
        ("ncf", {"variant": "gmf"}),
        ("ncf", {"variant": "mlp", "dropout": "0.3"}),
        ("ncf", {"layers": "16", "genre_features": "true"}),  # a one-entry tower
    ],
)
def test_candidate_logits_are_the_pairwise_logits(name, extra):
    """MF and NCF score a user's candidates per user and per item (faster); same logits."""
    m = zoo.make(name, syn().n_users, syn().n_items, {**FAST[name], **extra}, item_features=feats())
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in m.parameters():  # biases start at 0: give every weight a value to check
            p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
    m.eval()
    users, items = torch.arange(5), torch.randint(0, syn().n_items, (5, 7), generator=gen)
    pairwise = NeuralRecommender.forward_candidates(m, users, items)
    assert torch.allclose(m.forward_candidates(users, items), pairwise, atol=1e-5)


def test_other_losses_keep_user_dropout_and_refuse_per_user_negatives():
    m = zoo.make("ncf", syn().n_users, syn().n_items, {**FAST["ncf"], "loss": "softmax", "user_dropout": "0.3"})
    obj = OBJECTIVES["softmax"]()
    obj.setup(m, syn_split().train, m.cfg, torch.Generator().manual_seed(0))
    users = torch.cat([b[0] for b in obj.epoch_batches()])
    assert (users == m.new_user).float().mean() == pytest.approx(0.3, abs=0.03)
    with pytest.raises(ConfigError, match="negatives_per_user works with loss=bce only"):
        zoo.make("mf", syn().n_users, syn().n_items, {"loss": "bpr", "negatives_per_user": "2"})


def test_bce_batches_looked_up_from_the_positives_equal_the_built_rows():
    """The BCE epoch is gathered batch by batch from the positives and the drawn negatives;
    the same generator gives the same batches as building every row first."""
    m = zoo.make(
        "ncf",
        syn().n_users,
        syn().n_items,
        {**FAST["ncf"], "n_negatives": "3", "user_dropout": "0.2", "recency_half_life": "5", "batch_size": "64"},
    )

    def epoch(built: bool):
        obj = OBJECTIVES["pointwise"]()
        obj.setup(m, syn_split().train, m.cfg, torch.Generator().manual_seed(3))
        if built:
            users, items, labels, weights = obj._rows()
            return list(obj._shuffled(len(users), users, items, labels, weights))
        return list(obj.epoch_batches())

    looked_up, built = epoch(False), epoch(True)
    assert len(looked_up) == len(built) > 1
    for a, b in zip(looked_up, built):
        for x, y in zip(a, b):
            assert torch.equal(x, y)
    labels = torch.cat([b[2] for b in looked_up])
    assert labels.mean().item() == pytest.approx(1 / 4)  # one positive for three negatives
    assert (torch.cat([b[0] for b in looked_up]) == m.new_user).any()  # the dropped users are there


def test_train_loss_decreases_and_history_is_complete():
    _, h = fitted("ncf")
    losses = [e["train_loss"] for e in h.epochs]
    assert losses[-1] < losses[0]
    assert {"epoch", "train_loss", "valid_loss", "HR@10", "NDCG@10", "seconds"} <= set(h.epochs[0])


def test_same_seed_same_history():
    _, a = fitted("ncf", epochs="3")
    _, b = fitted("ncf", epochs="3")
    assert [e["train_loss"] for e in a.epochs] == [e["train_loss"] for e in b.epochs]
    _, c = fitted("ncf", epochs="3", seed="1")
    assert [e["train_loss"] for e in a.epochs] != [e["train_loss"] for e in c.epochs]


def test_early_stopping_unit():
    es = EarlyStopping("max", patience=2)
    assert es.update(0.5) == (True, False)
    assert es.update(0.5) == (False, False)  # a tie is not an improvement
    assert es.update(0.4) == (False, True)
    es = EarlyStopping("min", patience=1)
    assert es.update(1.0) == (True, False) and es.update(0.9) == (True, False) and es.update(0.95) == (False, True)


def test_early_stopping_restores_best_epoch():
    m, h = fitted("ncf", epochs="30", lr="0.05", patience="2")  # a high lr overfits fast
    assert h.best_epoch is not None and h.best_epoch < len(h.epochs)
    best = h.epochs[h.best_epoch - 1]["NDCG@10"]
    assert validate(m, syn_split())["NDCG@10"] == pytest.approx(best)


def test_one_cosine_takes_the_learning_rate_from_lr_down_to_zero_over_the_fit():
    _, h = fitted("mf", epochs="4", patience="10", schedule="cosine")
    lrs = [e["lr"] for e in h.epochs]  # each epoch's at its end
    assert len(lrs) == 4 and lrs[1] == pytest.approx(0.005)  # half-way through: half of lr 0.01
    assert lrs == sorted(lrs, reverse=True) and lrs[-1] == pytest.approx(0.0, abs=1e-12)
    _, flat = fitted("mf", epochs="2", patience="10")
    assert [e["lr"] for e in flat.epochs] == [0.01, 0.01]


def _rates(schedule: str, warmup: float, epochs: int = 4, steps: int = 10) -> list[float]:
    """The learning rate of each of a fit's steps (lr 0.01), as `lr_schedule` sets it."""
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=0.01)
    cfg = SimpleNamespace(schedule=schedule, warmup_epochs=warmup, epochs=epochs, restart_epochs=2)
    sched, out = lr_schedule(opt, cfg, steps), []
    for _ in range(epochs * steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        if sched is not None:
            sched.step()
    return out


def test_a_warm_up_raises_the_rate_linearly_then_hands_over_to_the_schedule():
    flat = _rates("none", 1.5)  # 15 of 40 steps
    assert flat[:15] == pytest.approx([0.01 * (s + 1) / 15 for s in range(15)])
    assert flat[15:] == pytest.approx([0.01] * 25)
    cosine = _rates("cosine", 1.5)
    assert cosine[:15] == pytest.approx(flat[:15])
    assert cosine[15] == pytest.approx(0.01) and cosine[-1] < 0.0002  # one cosine over the 25 steps left
    assert cosine[15:] == sorted(cosine[15:], reverse=True)
    restarts = _rates("cosine-restarts", 0.5)  # 5 steps, then cycles of 20
    assert restarts[:5] == pytest.approx([0.002, 0.004, 0.006, 0.008, 0.01])
    assert restarts[5] == pytest.approx(0.01) and restarts[25] == pytest.approx(0.01) and restarts[24] < 0.0002
    assert _rates("none", 0.0) == [0.01] * 40 and _rates("cosine", 0.0) == _rates("cosine", 0.05)  # under 2 steps: none


def test_a_warmed_up_fit_records_its_rising_rate_and_keeps_an_unwarmed_run_s_config_key():
    _, h = fitted("mf", epochs="3", patience="10", warmup_epochs="2")
    lrs = [e["lr"] for e in h.epochs]  # each epoch's at its end
    assert lrs[0] < lrs[1] == pytest.approx(0.01) == lrs[2]
    plain = config_hash(zoo.config_for("mf", {}))
    assert config_hash(zoo.config_for("mf", {"warmup_epochs": "0"})) == plain  # stored runs keep their keys
    assert config_hash(zoo.config_for("mf", {"warmup_epochs": "1"})) != plain
    with pytest.raises(ConfigError, match="warmup_epochs"):
        zoo.config_for("mf", {"warmup_epochs": "-1"})


def test_weight_average_unit():
    lin = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.zeros_(lin.weight)
    avg = WeightAverage(lin, half_life_epochs=1, batches_per_epoch=4)
    with torch.no_grad():
        lin.weight.fill_(1.0)
    for _ in range(4):  # one epoch at the new weight: the average moves half-way
        avg.update()
    assert avg.shadow[0].item() == pytest.approx(0.5)
    with avg.applied():
        assert lin.weight.item() == pytest.approx(0.5)
    assert lin.weight.item() == 1.0  # the model's own weights are back after the block


def test_weight_average_is_what_validation_saw_and_what_the_fit_returns():
    rs = ratings_split(syn())
    light = {"embedding_dropout": "0.02", "weight_decay": "1e-5"}  # not the shipped regularisation
    runs = {}
    for half_life in ("0", "1"):  # lr 0.1: the plain steps bounce around the optimum
        extra = {**light, "epochs": "10", "patience": "10", "lr": "0.1", "average_half_life": half_life}
        m = zoo.make("embnet", syn().n_users, syn().n_items, {**FAST["embnet"], **extra})
        h = fit_model(m, rs.train, rs.valid)
        best = h.epochs[h.best_epoch - 1]["RMSE"]
        assert validate(m, rs.valid)["RMSE"] == pytest.approx(best)  # the kept weights are the validated ones
        runs[half_life] = min(e["RMSE"] for e in h.epochs)
    assert runs["1"] < runs["0"] - 0.01, runs  # the average of the bouncing steps generalises better
    ends = {}
    for half_life in ("0", "1"):  # no validation set (the 5-fold refit): the fit ends on the average
        extra = {**light, "epochs": "10", "lr": "0.1", "average_half_life": half_life}
        m = zoo.make("embnet", syn().n_users, syn().n_items, {**FAST["embnet"], **extra})
        fit_model(m, rs.train)
        ends[half_life] = validate(m, rs.valid)["RMSE"]
    assert ends["1"] < ends["0"] - 0.02, ends


def test_cancel_stops_the_run():
    stop = threading.Event()

    class CancelSoon(Callback):
        def on_batch_end(self, epoch, batch, n_batches, loss):
            stop.set()

    m = zoo.make("ncf", syn().n_users, syn().n_items, FAST["ncf"], item_features=feats())
    h = fit_model(m, syn_split().train, syn_split(), [CancelSoon()], cancel=stop)
    assert h.status == "cancelled" and not h.epochs


def test_divergence_is_a_status_not_a_crash():
    # SELU layers with SGD at lr 10 overflow within a few batches
    m = zoo.make(
        "autorec", syn().n_users, syn().n_items, {**FAST["autorec"], "lr": "10", "optimizer": "sgd", "momentum": "0.99"}
    )
    h = fit_model(m, syn_split().train, syn_split())
    assert h.status == "diverged" and "learning rate" in h.message
    m = zoo.make("ncf", syn().n_users, syn().n_items, {**FAST["ncf"], "lr": "1", "epochs": "2"}, item_features=feats())
    h = fit_model(
        m, syn_split().train, syn_split()
    )  # seed 000's lr 1 on this small NCF: a bad but finite run, never a crash
    assert h.status == "done" and len(h.epochs) == 2 and all(np.isfinite(e["train_loss"]) for e in h.epochs)


def test_gpu_out_of_memory_is_a_clear_failure(monkeypatch):
    from recsys_core.training.objectives import Pointwise

    def oom(self, batch):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(Pointwise, "loss", oom)
    m = zoo.make("mf", syn().n_users, syn().n_items, {**FAST["mf"], "loss": "bce"})
    h = fit_model(m, syn_split().train, syn_split())
    assert h.status == "failed" and not h.epochs
    assert "out of GPU memory" in h.message and "lower the batch size" in h.message and "20.00 GiB" in h.message


def test_cold_start_new_user_embedding_is_learned():
    m, h = fitted("ncf", user_dropout="0.2", genre_features="true")
    s = m.score_new_user().cpu().numpy()
    assert np.isfinite(s).all() and s.std() > 0
    pop = syn_split().train.item_counts
    assert np.corrcoef(s, pop)[0, 1] > 0.3  # with no history, popular items come first


def test_rating_models_on_the_ratings_protocol():
    rs = ratings_split(syn())
    for name in ("embnet", "autorec"):
        m = zoo.make(name, syn().n_users, syn().n_items, FAST[name])
        h = fit_model(m, rs.train, rs.valid)
        assert "RMSE" in h.epochs[-1]
        from recsys_core.evaluation.scoring import evaluate_ratings

        r = evaluate_ratings(m, rs.test)
        global_mean = float(np.sqrt(np.mean((rs.test.ratings - rs.train.ratings.mean()) ** 2)))
        assert r["RMSE"] < global_mean, (name, r, global_mean)


def test_five_fold_refits_each_fold_on_all_its_training_ratings():
    from recsys_core.evaluation.splits import ratings_folds
    from recsys_core.runs.experiment import fit_and_evaluate

    seen = []
    res = fit_and_evaluate("embnet", syn(), ["ratings-5fold"], overrides=FAST["embnet"], callbacks=[Fits(seen)])
    assert len(seen) == 10  # per fold: early-stopped on the inner tenth, then refit
    for fold, (first, refit) in zip(ratings_folds(syn(), 5), zip(seen[::2], seen[1::2])):
        best = max(range(len(first["rows"])), key=lambda j: -first["rows"][j]["RMSE"]) + 1
        assert refit["epochs"] == best and len(refit["rows"]) == best  # the epochs validation picked
        assert "RMSE" not in refit["rows"][-1]  # no validation rows left to look at
        n = len(fold.train) + len(fold.valid)
        assert refit["batches"] == -(-n // int(FAST["embnet"]["batch_size"]))  # trained on train + valid
    assert 0.3 < res.metrics["ratings-5fold"]["RMSE"] < 1.5


def test_autorec_variants_build_and_train():
    for extra in (
        {"tied": "true"},
        {"refeeding": "true"},
        {"layers": "32-16-16", "dropout": "0.2"},
        {"item_based": "true"},
    ):
        m, h = fitted("autorec", epochs="2", **extra)
        assert h.status == "done"


def test_neumf_pretraining_from_gmf_and_mlp():
    m, h = fitted("ncf", pretrain="true", epochs="4")
    assert h.status == "done"
    # a refit keeps the epochs validation picked: NeuMF's own and each pre-training's
    cfg = m.refit_config(h)
    assert cfg.epochs == h.best_epoch
    assert cfg.pretrain_epochs == (m.pretrain_best_["GMF"], m.pretrain_best_["MLP"])
    assert all(1 <= n <= 4 for n in cfg.pretrain_epochs)

    phases = []

    class Record(Callback):
        def on_pretrain_epoch_end(self, phase, row):
            phases.append(phase)

    fixed = {**FAST["ncf"], "pretrain": "true", "pretrain_epochs": "2,1", "epochs": "1"}
    r = zoo.make("ncf", syn().n_users, syn().n_items, fixed, item_features=feats())
    assert fit_model(r, syn_split().train, callbacks=[Record()]).status == "done"
    assert phases == ["GMF", "GMF", "MLP"]  # fixed counts, without validation
    with pytest.raises(ConfigError, match="pretrain_epochs"):
        zoo.make("ncf", syn().n_users, syn().n_items, {"pretrain_epochs": "1,2,3"})


def test_refit_trains_on_train_and_validation_for_the_epochs_validation_picked():
    from recsys_core.runs.experiment import fit_and_evaluate

    seen = []
    res = fit_and_evaluate("mf", syn(), ["loo-uniform"], overrides=FAST["mf"], callbacks=[Fits(seen)], refit=True)
    first, again = seen
    best = res.history.best_epoch
    assert res.history.epochs == first["rows"]  # the run's history is the validated fit's
    assert again["epochs"] == best and len(again["rows"]) == best
    assert "NDCG@10" not in again["rows"][-1]  # nothing left to validate on
    users = syn_split().eval_users
    valid = syn_split().valid_items[users]
    assert np.asarray(res.recommender.seen_[users, valid]).all()  # trained on the validation items
    assert not (res.lists[0][users] == valid[:, None]).any()  # and they are not recommended back
    assert "refit on train + validation" in res.to_json("loo-uniform", 10)["protocol_description"]
    assert "refit" in res.seconds

    plain = fit_and_evaluate("mf", syn(), ["loo-uniform"], overrides=FAST["mf"])
    assert not np.asarray(plain.recommender.seen_[users, valid]).any()
    assert "refit" not in plain.to_json("loo-uniform", 10)["protocol_description"]
    ease = fit_and_evaluate("ease", syn(), ["loo-uniform"], refit=True)  # closed form: refit as it is
    assert np.asarray(ease.recommender.seen_[users, valid]).all()


def test_config_validation_messages():
    for bad in ({"lr": "-1"}, {"dropout": "1"}, {"mf_dim": "0"}, {"sampler": "magic"}):
        with pytest.raises(ConfigError, match="valid keys"):
            zoo.config_for("ncf", bad)
    with pytest.raises(ConfigError, match="unknown key"):
        zoo.config_for("ncf", {"learning_rate": "0.1"})
    with pytest.raises(ConfigError) as e:  # the listed defaults are the shipped ones, not the class's
        zoo.config_for("embnet", {"embedding_dropout": "1.5"})
    shipped = zoo.config_for("embnet")
    assert f"embedding_dropout (float, default {shipped.embedding_dropout!r})" in str(e.value)
    assert f"  epochs (int, default {shipped.epochs!r})" in str(e.value)
    assert shipped.epochs != EmbNetConfig().epochs


def test_cli_train_json(capsys):
    src = "synthetic:users=120,items=150,seed=1"
    args = ["train", "mf", "--dataset", src, "--json", "--quiet", "--set", "epochs=2", "--set", "dim=8"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"model", "dataset", "protocol", "k", "metrics", "seconds", "history", "config"} <= set(out)
    assert out["config"]["epochs"] == 2 and len(out["history"]["epochs"]) <= 2
    assert main(["evaluate", "mf", "--dataset", src, "--json", "--refit", "--set", "epochs=2", "--set", "dim=8"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert "refit on train + validation" in out["protocol_description"] and "refit" in out["seconds"]
    assert main(["train", "ease", "--dataset", src, "--quiet"]) == 0  # closed form: nothing per epoch to show
    out = capsys.readouterr().out
    assert "closed form: no epochs to validate" in out and "test:" in out and "HR@10" in out
    assert main(["train", "ncf", "--dataset", src, "--set", "dropout=1.5"]) == 2
    assert "valid keys" in capsys.readouterr().err
