"""Sequential models (SASRec, GRU4Rec, BERT4Rec): the order they read, the causal mask (and
BERT4Rec's two-way attention and mask slot), what a planted order teaches them and what
shuffling it takes away, their losses (the chunked full softmax, gSASRec's gBCE), bounded
scoring memory. Their reload, shapes and seen-item
rules are in the zoo's shared contract (tests/models/test_contract.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recsys_core.data.interactions import Interactions
from recsys_core.errors import ConfigError
from recsys_core.evaluation.scoring import evaluate
from recsys_core.evaluation.splits import loo_split
from recsys_core.runs import zoo
from recsys_core.runs.experiment import fit_and_evaluate
from recsys_core.training import objectives
from recsys_core.training.fitting import fit_model
from tests.helpers import tiny_dataset


def _rows(users, items, timestamps, n_users=2, n_items=10) -> Interactions:
    return Interactions(
        np.array(users),
        np.array(items),
        np.ones(len(users), np.float32),
        np.array(timestamps),
        n_users,
        n_items,
    )


def test_sequences_keep_the_tie_rule_pad_on_the_left_and_shuffle_only_what_is_asked():
    # user 0: items 5, 3, 7 at times 1, 2, 2 (3 before 7: row order), then 1 at time 3
    inter = _rows([0, 0, 0, 0, 1], [5, 3, 7, 1, 2], [1, 2, 2, 3, 9])
    seqs = inter.sequences(3)
    assert seqs.tolist() == [[4, 8, 2], [0, 0, 3]]  # the latest three, item id + 1, padded with 0
    assert inter.sequences(6)[0].tolist() == [0, 0, 6, 4, 8, 2]
    ties = {
        tuple(_rows([0] * 6, [0, 1, 2, 3, 4, 5], [1, 2, 2, 2, 2, 3], 1).sequences(6, "shuffle-ties", s)[0])
        for s in range(20)
    }
    assert all(t[0] == 1 and t[-1] == 6 for t in ties) and len(ties) > 1  # only the equal timestamps move
    whole = {
        tuple(_rows([0] * 6, [0, 1, 2, 3, 4, 5], [1, 2, 3, 4, 5, 6], 1).sequences(6, "shuffle", s)[0])
        for s in range(20)
    }
    assert any(t[0] != 1 for t in whole) and any(t[-1] != 6 for t in whole)
    with pytest.raises(ConfigError, match="unknown order"):
        inter.sequences(3, "backwards")


@pytest.mark.parametrize(
    "name, over",
    [("sasrec", {"blocks": 2, "heads": 2}), ("sasrec", {"blocks": 2, "heads": 2, "block": "ligr"}), ("gru4rec", {})],
)
def test_no_position_sees_a_later_item(name, over):
    model = zoo.make(name, 4, 30, {"hidden": 16, "max_len": 12, "dropout": 0.0, **over})
    model.eval()
    gen = torch.Generator().manual_seed(0)
    seqs = torch.randint(1, 31, (3, 12), generator=gen)
    seqs[0, :4] = 0  # a padded history too
    with torch.no_grad():
        before = model.encode(seqs)
        for t in (2, 6, 10):
            changed = seqs.clone()
            changed[:, t + 1 :] = torch.randint(1, 31, changed[:, t + 1 :].shape, generator=gen)
            after = model.encode(changed)
            torch.testing.assert_close(after[:, : t + 1], before[:, : t + 1], atol=1e-5, rtol=1e-5)
            assert not torch.allclose(after[:, t + 1 :], before[:, t + 1 :])  # later positions do read them


def test_sasrec_heads_must_divide_the_hidden_size():
    with pytest.raises(ConfigError, match="multiple of heads"):
        zoo.config_for("sasrec", {"hidden": 30, "heads": 4})


def chain_dataset(n_users=150, n_items=140, steps=14, seed=0):
    """Every user walks the same fixed chain of items (a permutation, cyclic) for `steps`
    steps from a random start, one step per second: the next item follows from the last."""
    rng = np.random.default_rng(seed)
    chain = rng.permutation(n_items)
    rows = []
    for u in range(n_users):
        start = rng.integers(n_items)
        for s in range(steps):
            rows.append((u + 1, int(chain[(start + s) % n_items]) + 1, 4.0, 1000 + s))
    return tiny_dataset(rows, n_items)


SEQ = {"hidden": 32, "max_len": 16, "epochs": 60, "patience": 60, "batch_size": 32, "lr": 0.005, "dropout": 0.1}


@pytest.mark.slow
def test_a_planted_order_is_learned_by_the_sequential_models_and_shuffling_it_takes_the_gain_away():
    """On a walk along a chain, an order-blind model can learn which items lie near a user's
    (EASE does, from co-occurrence), but not which end of the walk comes next: only the
    order tells. The sequential models put the next item first; trained on shuffled
    histories they fall back towards the co-occurrence level, and most of their lead goes.
    A shuffled fit's MRR@10 moves with its seed (0.68-0.87 over seeds 0-3 and both ways of
    drawing dropout), so the shuffled models are judged on three seeds' mean."""
    ds = chain_dataset()
    mrr = {}
    for name, over in [
        ("popularity", {}),
        ("mf", {"epochs": 40, "patience": 40, "dim": 32, "lr": 0.01, "loss": "softmax", "n_negatives": 16}),
        ("ease", {"recency_half_life": 0}),
        ("sasrec", SEQ),
        ("gru4rec", SEQ),
    ]:
        mrr[name] = fit_and_evaluate(name, ds, ["loo-uniform"], overrides=over).metrics["loo-uniform"]["MRR@10"]
    for name in ("sasrec", "gru4rec"):
        shuffled = [
            fit_and_evaluate(name, ds, ["loo-uniform"], overrides={**SEQ, "order": "shuffle", "seed": seed})
            for seed in range(3)
        ]
        mrr[f"{name}-shuffled"] = float(np.mean([r.metrics["loo-uniform"]["MRR@10"] for r in shuffled]))
    blind = max(mrr["popularity"], mrr["mf"], mrr["ease"])  # the best order-blind model
    for seq in ("sasrec", "gru4rec"):
        assert mrr[seq] > 0.95, mrr  # the next item, first
        assert mrr[seq] > blind + 0.2 and mrr[seq] > mrr["popularity"] + 0.8, mrr
        # the order was the lead: without it, at most half of it is left (a shuffled sequence
        # model is itself an order-blind set model, as good as the others at co-occurrence)
        assert mrr[f"{seq}-shuffled"] - blind < 0.5 * (mrr[seq] - blind), mrr
        assert mrr[f"{seq}-shuffled"] < mrr[seq] - 0.1, mrr


def test_the_test_figures_read_the_validation_item_without_retraining():
    ds = chain_dataset(n_users=40, n_items=120, steps=8)
    res = fit_and_evaluate("sasrec", ds, ["loo-uniform"], overrides={**SEQ, "epochs": 2})
    model, split = res.recommender, loo_split(ds)
    for u in split.eval_users[:5]:
        read = model.read_items(u)
        assert read[-1] == split.valid_rows.items[split.valid_rows.users == u][0]  # the validation item, last
        assert split.test_items[u] not in read  # never the test item
    # the validation figures during the fit read one item less: training never saw the validation item
    fresh = zoo.make("sasrec", ds.n_users, ds.n_items, {**SEQ, "epochs": 2})
    fit_model(fresh, split.train, split)
    u = split.eval_users[0]
    assert len(fresh.read_items(u)) == len(model.read_items(u)) - 1
    assert evaluate(model, split, "loo-uniform")["NDCG@10"] == pytest.approx(res.metrics["loo-uniform"]["NDCG@10"])


def test_what_a_sequential_model_read_is_never_recommended_back():
    ds = chain_dataset(n_users=40, n_items=120, steps=8)
    res = fit_and_evaluate("sasrec", ds, ["loo-uniform"], overrides={**SEQ, "epochs": 2})
    model, split = res.recommender, loo_split(ds)
    topk = res.lists[0]
    lists, _ = model.recommend(np.arange(ds.n_users), k=50)
    for u, item in zip(split.valid_rows.users, split.valid_rows.items):
        assert item in model.read_items(u)
        assert item not in topk[u] and item not in lists[u]  # read, so seen: in neither list
    assert np.array_equal(lists[:, :10], topk[:, :10])


def test_windows_make_every_interaction_but_the_first_a_target_once():
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(4), [1, 2, 7, 12])
    inter = _rows(users, rng.permutation(len(users)), np.arange(len(users)), n_users=4, n_items=50)  # items unique
    for length in (2, 3, 4, 6, 13):
        win = inter.windows(length)
        targets = win[:, 1:][(win[:, 1:] > 0) & (win[:, :-1] > 0)]  # what the objective predicts
        assert len(targets) == len(users) - 4  # every user's first item is never a target (user 0 has only it)
        full = inter.sequences(12)
        for u in (1, 2, 3):
            history = full[u][full[u] > 0].tolist()
            mine = [w[w > 0].tolist() for w in win if set(w[w > 0]) <= set(history)]
            assert len(mine) == max(0, (len(history) - 2) // (length - 1) + 1)
            # windows read in order: each one's items are consecutive in the history
            assert all(" ".join(map(str, m)) in " ".join(map(str, history)) for m in mine)
        assert (win[:, -1] > 0).all() and ((win > 0).sum(1) >= 2).all()  # latest on the right; a step each


def test_strided_windows_count_every_target_once_each_after_more_of_its_history():
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(4), [1, 2, 7, 12])
    inter = _rows(users, rng.permutation(len(users)), np.arange(len(users)), n_users=4, n_items=50)  # items unique
    full = inter.sequences(12)
    where = {int(i): (u, full[u][full[u] > 0].tolist().index(i)) for u in (1, 2, 3) for i in full[u] if i > 0}
    for length in (3, 4, 6, 13):
        np.testing.assert_array_equal(inter.windows(length, stride=length - 1), inter.windows(length))
        for stride in range(1, length):
            win = inter.windows(length, stride=stride)
            real = (win[:, 1:] > 0) & (win[:, :-1] > 0)
            real[:, : length - 1 - stride] = False  # what the objective counts: each window's last `stride`
            rows, cols = np.nonzero(real)
            counted = win[:, 1:][rows, cols]
            assert sorted(counted.tolist()) == sorted(i for i, (u, t) in where.items() if t >= 1), (length, stride)
            before = (win[:, :-1] > 0).cumsum(1)[rows, cols]  # the history the model read before the target
            assert all(b >= min(where[int(i)][1], length - 1 - stride + 1) for i, b in zip(counted, before))
    with pytest.raises(ValueError, match="stride"):
        inter.windows(4, stride=4)


def test_a_strided_fit_predicts_each_target_once_an_epoch_and_the_config_refuses_what_it_cannot_do():
    rng = np.random.default_rng(1)
    users = np.repeat(np.arange(5), [3, 9, 14, 20, 6])
    seconds = np.arange(len(users)) // 2  # pairs of ratings in one second: `targets=ties` spreads over them
    inter = _rows(users, rng.integers(0, 30, len(users)), seconds, n_users=5, n_items=30)
    cases = [("sasrec", s, True, "next") for s in (0, 1, 3, 7)] + [("gru4rec", s, False, "next") for s in (1, 3)]
    cases += [("sasrec", 3, True, "ties"), ("gru4rec", 3, False, "ties")]
    for name, stride, grad, targets in cases:
        cfg = {"max_len": 7, "hidden": 8, "epochs": 1, "batch_size": 4, "stride": stride, "context_grad": grad}
        model = zoo.make(name, 5, 30, {**cfg, "loss": "full", "targets": targets})
        model.prepare(inter)
        obj = objectives.OBJECTIVES[model.objective]()
        obj.setup(model, inter, model.cfg, torch.Generator().manual_seed(0))
        # the positions the loss would predict (a spread target's weights add up to one a position)
        obj.item_loss = lambda states, targets, real: real.sum()
        obj.full_softmax = lambda h, w, items, weights=None: weights.sum()
        counted = sum(round(float(obj.loss(batch))) for batch in obj.epoch_batches())
        assert counted == len(users) - 5, (name, stride, targets)  # every interaction but each user's first, once
    for name, cfg, words in (
        ("sasrec", {"max_len": 7, "stride": 8}, "longer than max_len"),
        ("gru4rec", {"stride": 10, "windows": "latest"}, "windows=latest"),
        ("bert4rec", {"stride": 10}, "SASRec and GRU4Rec"),
    ):
        with pytest.raises(ConfigError, match=words):
            zoo.make(name, 5, 30, cfg)


def test_gru4rec_reads_a_windows_context_without_gradients_and_gives_the_same_states():
    torch.manual_seed(0)
    model = zoo.make("gru4rec", 3, 40, {"hidden": 16, "layers": 2, "max_len": 12, "stride": 4, "context_grad": False})
    seqs = torch.tensor([[0, 0, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [1, 2, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22]])
    model.eval()  # no dropout: the two readings are the same function
    torch.testing.assert_close(model.encode_tail(seqs, 4), model.encode(seqs)[:, -4:])
    model.train()
    model.encode_tail(seqs, 4).sum().backward()
    grads = model.item_emb.weight.grad.abs().sum(1)
    assert float(grads[[3, 4, 5, 13, 14, 15]].max()) == 0  # read only in the context: no gradient
    assert float(grads[[9, 10, 11, 12, 19, 20, 21, 22]].min()) > 0  # the tail's inputs learn
    for name, cfg, words in (
        ("gru4rec", {"context_grad": False}, "needs a stride"),
        ("sasrec", {"max_len": 8, "stride": 4, "context_grad": False}, "GRU4Rec's"),
    ):
        with pytest.raises(ConfigError, match=words):
            zoo.make(name, 5, 30, cfg)


def test_latest_windows_are_each_users_latest_items_one_a_user():
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(4), [1, 2, 7, 12])
    inter = _rows(users, rng.permutation(len(users)), np.arange(len(users)), n_users=4, n_items=50)
    for length in (2, 3, 6, 13):
        every, latest = inter.windows(length), inter.windows(length, latest=True)
        assert latest.shape == (3, length)  # user 0 (one interaction) has no window
        # each is the user's latest `length` items, as `sequences` reads them, and one of every window
        np.testing.assert_array_equal(latest, inter.sequences(length)[1:])
        assert all((every == w).all(1).any() for w in latest)


def test_training_on_the_latest_windows_reads_no_older_item():
    # user 0's oldest items are 1..4, never in its latest window of 3 + 1: the table the model reads
    # items through (its own, untied from the output's) never moves for them
    inter = _rows([0] * 8 + [1] * 3, [1, 2, 3, 4, 5, 6, 7, 8, 5, 6, 7], np.arange(11), n_items=10)
    for windows, untouched in (("every", set()), ("latest", {1, 2, 3, 4})):
        cfg = {"max_len": 3, "hidden": 8, "epochs": 1, "batch_size": 4, "dropout": 0.0, "tied": False}
        cfg["windows"] = windows
        model = zoo.make("sasrec", 2, 10, cfg)
        model.prepare(inter)
        before = model.item_emb.weight.detach().clone()
        fit_model(model, inter)
        moved = {i for i in range(10) if not torch.equal(before[i + 1], model.item_emb.weight[i + 1])}
        assert not (moved & untouched) and moved >= {5, 6, 7}, windows
        if windows == "every":
            assert moved >= {1, 2, 3, 4}


@pytest.mark.parametrize("name", ["sasrec", "bert4rec"])
def test_the_normal_start_draws_every_weight_small_and_keeps_padding_zero(name):
    torch.manual_seed(0)
    model = zoo.make(name, 5, 400, {"hidden": 32, "max_len": 20, "init": "normal", "tied": False})
    params = {n: p.detach() for n, p in model.named_parameters()}
    small = [p for n, p in params.items() if "norm" not in n and "bias" not in n and p.numel() >= 256]
    assert len(small) >= 8 and all(0.015 < float(p.std()) < 0.025 for p in small), params.keys()
    assert all(float(p.abs().max()) == 0 for n, p in params.items() if n.endswith("bias") and "norm" not in n)
    assert float(params["item_emb.weight"][0].abs().max()) == 0  # padding reads as nothing
    default = zoo.make(name, 5, 400, {"hidden": 32, "max_len": 20, "init": "torch"})
    assert float(default.item_emb.weight.detach()[1:].std()) > 0.1  # torch's start is left as it was


def test_the_chunked_full_softmax_gives_cross_entropys_loss_and_gradients():
    from recsys_core.training.losses import full_softmax_loss

    g = torch.Generator().manual_seed(0)
    n_items = 5000  # a chunk of 209 rows: 700 rows make four chunks, the last one short
    h = torch.randn(700, 16, generator=g, requires_grad=True)
    w = torch.randn(n_items, 16, generator=g, requires_grad=True)
    t = torch.randint(0, n_items, (700,), generator=g)
    loss = full_softmax_loss(h, w, t)
    (2 * loss).backward()  # the upstream gradient is applied
    gh, gw = h.grad.clone(), w.grad.clone()
    h.grad = w.grad = None
    ref = torch.nn.functional.cross_entropy(h @ w.T, t)
    (2 * ref).backward()
    assert loss.item() == pytest.approx(ref.item(), rel=1e-6)
    torch.testing.assert_close(gh, h.grad, rtol=1e-4, atol=1e-7)
    torch.testing.assert_close(gw, w.grad, rtol=1e-4, atol=1e-7)
    with torch.no_grad():  # no gradient asked: the plain path
        assert full_softmax_loss(h, w, t).item() == pytest.approx(ref.item(), rel=1e-6)


def test_the_chunked_full_softmax_under_bf16_autocast_takes_bf16_products_and_stays_close():
    from recsys_core.training.losses import full_softmax_loss

    g = torch.Generator().manual_seed(1)
    h = torch.randn(600, 32, generator=g, requires_grad=True)
    w = torch.randn(3000, 32, generator=g, requires_grad=True)
    t = torch.randint(0, 3000, (600,), generator=g)
    ref = torch.nn.functional.cross_entropy(h @ w.T, t)
    ref.backward()
    gh, gw = h.grad.clone(), w.grad.clone()
    h.grad = w.grad = None
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = full_softmax_loss(h, w, t)
    loss.backward()
    assert loss.dtype == torch.float32 and h.grad.dtype == w.grad.dtype == torch.float32
    assert loss.item() != ref.item() and loss.item() == pytest.approx(ref.item(), rel=2e-3)  # bf16 products
    for mine, theirs in ((h.grad, gh), (w.grad, gw)):
        assert 0 < float((mine - theirs).norm() / theirs.norm()) < 0.02


def test_a_weighted_full_softmax_gives_the_cross_entropy_of_each_rows_target_distribution():
    from recsys_core.training.losses import full_softmax_loss

    g = torch.Generator().manual_seed(2)
    n_items = 3000  # 500 rows make several chunks
    h = torch.randn(500, 16, generator=g, requires_grad=True)
    w = torch.randn(n_items, 16, generator=g, requires_grad=True)
    t = torch.randint(0, n_items, (500, 4), generator=g)
    t[:, 3] = t[:, 0]  # an unused slot repeating a used item must not take its weight
    weights = torch.rand(500, 4, generator=g)
    weights[:, 3] = 0
    weights[:7, 1:] = 0  # some rows a single target
    weights = weights / weights.sum(1, keepdim=True)
    logits = h @ w.T
    ref = (torch.logsumexp(logits, 1) - (logits.gather(1, t) * weights).sum(1)).mean()
    ref.backward()
    gh, gw = h.grad.clone(), w.grad.clone()
    h.grad = w.grad = None
    loss = full_softmax_loss(h, w, t, weights)
    loss.backward()
    assert loss.item() == pytest.approx(ref.item(), rel=1e-6)
    torch.testing.assert_close(h.grad, gh, rtol=1e-4, atol=1e-7)
    torch.testing.assert_close(w.grad, gw, rtol=1e-4, atol=1e-7)
    one_hot = torch.zeros(500, 4)
    one_hot[:, 0] = 1  # one target a row: the plain loss
    assert full_softmax_loss(h, w, t, one_hot).item() == pytest.approx(
        full_softmax_loss(h, w, t[:, 0]).item(), rel=1e-6
    )
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = full_softmax_loss(h, w, t, weights)
    assert low.item() != ref.item() and low.item() == pytest.approx(ref.item(), rel=2e-3)
    with torch.no_grad():  # the plain path (CUDA's) computes the same
        assert full_softmax_loss(h, w, t, weights).item() == pytest.approx(ref.item(), rel=1e-5)


def test_tie_targets_spread_a_position_over_the_unread_rest_of_its_next_items_second():
    from recsys_core.training.sequences import tie_runs, tie_targets

    # user 0 rates 5 at time 1, then 6, 7 and 8 in the same second (time 2), then 9 at time 3
    inter = _rows([0] * 5 + [1] * 2, [5, 6, 7, 8, 9, 1, 2], [1, 2, 2, 2, 3, 4, 4])
    items, times = inter.windows(6), inter.windows(6, times=True)
    assert items.tolist() == [[0, 6, 7, 8, 9, 10], [0, 0, 0, 0, 2, 3]]
    assert times.tolist() == [[0, 1, 2, 2, 2, 3], [0, 0, 0, 0, 4, 4]]
    runs = tie_runs(items, times)
    assert runs.tolist() == [[0, 1, 3, 2, 1, 1], [0, 0, 0, 0, 2, 1]]
    ids, weights = tie_targets(torch.as_tensor(items), torch.as_tensor(runs))
    spread = [{int(i) - 1: round(float(p), 3) for i, p in zip(ids[0, j], weights[0, j]) if p > 0} for j in range(1, 5)]
    # after 5: any of 6, 7, 8 (their order in the log is noise); after 6: 7 or 8, not 6 again; after 8: 9
    assert spread == [{6: 0.333, 7: 0.333, 8: 0.333}, {7: 0.5, 8: 0.5}, {8: 1.0}, {9: 1.0}]
    assert [round(float(p), 3) for p in weights[1, 4] if p > 0] == [1.0]  # user 1: 1 then 2, one target
    assert torch.allclose(weights.sum(-1)[torch.as_tensor(items[:, 1:] > 0)], torch.tensor(1.0))


def test_tie_targets_need_the_full_softmax_and_a_next_item_model():
    with pytest.raises(ConfigError, match="needs loss=full"):
        zoo.make("sasrec", 3, 10, {"targets": "ties", "loss": "softmax"})
    with pytest.raises(ConfigError, match="BERT4Rec fills in hidden items"):
        zoo.make("bert4rec", 3, 10, {"targets": "ties", "loss": "full"})
    assert zoo.make("gru4rec", 3, 10, {"targets": "ties", "loss": "full"}).cfg.targets == "ties"


def test_tie_targets_learn_that_a_seconds_items_come_in_any_order():
    # every user reads 0, then rates 1 and 2 in the same second, in the row order the log
    # happened to keep: 1 first for 30 users, 2 first for 10. With the next item as the target
    # the model after 0 prefers 1 (3:1); with the second's items as the target, neither
    rows = ([], [], [])
    for u in range(40):
        first, second = (1, 2) if u < 30 else (2, 1)
        for item, ts in ((0, 0), (first, 1), (second, 1), (3 + u % 5, 2)):
            rows[0].append(u)
            rows[1].append(item)
            rows[2].append(ts)
    inter = _rows(*rows, n_users=40, n_items=8)
    gaps = {}
    for targets in ("next", "ties"):
        torch.manual_seed(0)
        # an output table of its own: with so few items a tied one also serves as what 1 and 2
        # read as inputs, and the tiny fit settles off its optimum (float32: 0.6 where 1.0 is best)
        cfg = {"max_len": 4, "hidden": 16, "epochs": 100, "batch_size": 40, "dropout": 0.0, "tied": False}
        model = zoo.make("sasrec", 40, 8, {**cfg, "loss": "full", "targets": targets, "lr": 0.01, "amp": "off"})
        model.prepare(inter)
        fit_model(model, inter)
        model.eval()
        with torch.no_grad():
            # the state after item 0, where training read it (the causal mask hides what follows)
            p = torch.softmax(model.encode(torch.tensor([[0, 1, 2, 3]]))[0, 1] @ model.item_vectors().T, 0)
        gaps[targets] = float(p[1] / p[2])
    assert 2.5 < gaps["next"] < 3.5 and 0.9 < gaps["ties"] < 1.1, gaps


def test_bert4rec_reads_both_ways_ignores_padding_and_scores_from_a_mask_slot_after_the_history():
    model = zoo.make("bert4rec", 3, 30, {"hidden": 16, "max_len": 8, "dropout": 0.0, "heads": 2})
    model.eval()
    gen = torch.Generator().manual_seed(0)
    seqs = torch.randint(1, 31, (2, 8), generator=gen)
    seqs[1, :3] = 0  # padded on the left
    with torch.no_grad():
        before = model.encode(seqs)
        later = seqs.clone()
        later[:, -1] = (later[:, -1] % 30) + 1  # another latest item
        assert not torch.allclose(model.encode(later)[:, 0:1][0], before[:, 0:1][0])  # the first position reads it
        # padding is never attended to: what the padded positions' embeddings hold does not matter
        model.pos_emb.weight[:3] += 5.0
        torch.testing.assert_close(model.encode(seqs)[1, 3:], before[1, 3:], atol=1e-5, rtol=1e-5)
    # to recommend, the history (oldest dropped when full) and then the mask slot
    model.history = torch.tensor([[0, 0, 0, 4, 5, 6, 7, 8], [1, 2, 3, 4, 5, 6, 7, 8], [0] * 8])
    read = model.reading([0, 1, 2])
    assert read[0].tolist() == [0, 0, 4, 5, 6, 7, 8, model.mask_id]
    assert read[1].tolist() == [2, 3, 4, 5, 6, 7, 8, model.mask_id]
    assert model.read_items(1).tolist() == [1, 2, 3, 4, 5, 6, 7]  # ids, the mask slot left out
    assert len(model.attention(1)) == 7 and 0 < model.attention(1).sum() < 1  # the rest: the slot on itself
    assert model.score([2]).shape == (1, 30)  # no history: the mask slot alone is read


def test_masking_hides_items_of_real_positions_and_always_at_least_one():
    from recsys_core.training.objectives import MaskedItem

    ds = chain_dataset(n_users=30, n_items=40, steps=6)
    split = loo_split(ds)
    cfg = zoo.config_for("bert4rec", {"hidden": 16, "max_len": 8, "mask_prob": 0.01})
    model = zoo.make("bert4rec", ds.n_users, ds.n_items, cfg=cfg)
    model.prepare(split.train)
    obj = MaskedItem()
    obj.setup(model, split.train, cfg, torch.Generator().manual_seed(0))
    seen = []
    model.encode = lambda s: seen.append(s.clone()) or torch.zeros(*s.shape, 16, requires_grad=True)
    obj.loss((torch.arange(len(obj.seqs)),))
    hidden = seen[0] == model.mask_id
    assert hidden.any(1).all()  # every window has one to fill in (mask_prob 0.01 rarely draws one)
    assert (obj.windows_of(torch.arange(len(obj.seqs)))[hidden] > 0).all()  # only real items are hidden


def test_gbce_is_bce_at_t_0_and_weights_the_positive_by_the_share_sampled_at_t_1():
    from torch.nn import functional as F

    from recsys_core.training.losses import gbce_loss

    g = torch.Generator().manual_seed(0)
    pos, neg = torch.randn(50, generator=g), torch.randn(50, 8, generator=g)
    neg[0, 3] = float("-inf")  # not a negative of position 0 (its own target)
    plain = (F.softplus(-pos) + F.softplus(neg).sum(1)).mean()
    assert gbce_loss(pos, neg, 101, 0.0).item() == pytest.approx(plain.item(), rel=1e-6)
    alpha = 8 / 100
    calibrated = (alpha * F.softplus(-pos) + F.softplus(neg).sum(1)).mean()
    assert gbce_loss(pos, neg, 101, 1.0).item() == pytest.approx(calibrated.item(), rel=1e-6)
    # in between, the positive's weight falls from 1 to alpha
    assert calibrated.item() < gbce_loss(pos, neg, 101, 0.5).item() < plain.item()


@pytest.mark.parametrize("name", ["sasrec", "bert4rec", "gru4rec"])
def test_scoring_in_chunks_cut_to_their_longest_history_gives_the_same_states(name, monkeypatch):
    from recsys_core.models import sequential

    model = zoo.make(
        name, 40, 30, {"hidden": 16, "max_len": 10, "dropout": 0.0, **({} if name == "gru4rec" else {"heads": 2})}
    )
    model.eval()
    gen = torch.Generator().manual_seed(1)
    history = torch.randint(1, 31, (40, 10), generator=gen)
    for u in range(40):  # histories of every length, padded on the left
        history[u, : u % 11] = 0
    model.history = history
    with torch.no_grad():
        whole = torch.stack([model.encode(model.reading([u]))[0, -1] for u in range(40)])  # one at a time, uncut
        monkeypatch.setattr(sequential, "ATTENTION_CELLS", 7 * 10 * 10)  # a chunk: at most 7 users of 10 items
        widths = []
        encode = model.encode
        model.encode = lambda s: widths.append(tuple(s.shape)) or encode(s)
        torch.testing.assert_close(model.user_states(np.arange(40)), whole, atol=1e-5, rtol=1e-5)
    assert all(n * w * w <= 7 * 10 * 10 for n, w in widths) and sum(n for n, _ in widths) == 40
    if name != "gru4rec":  # the attention models read no padding: short histories are encoded short
        assert min(w for _, w in widths) < 10
    else:  # a GRU's state runs through the padding: always the whole window
        assert {w for _, w in widths} == {10}


def test_a_frozen_model_encodes_every_user_once_for_all_its_validation_reads():
    model = zoo.make("sasrec", 30, 20, {"hidden": 8, "max_len": 6})
    model.eval()
    model.history = torch.randint(0, 21, (30, 6), generator=torch.Generator().manual_seed(2))
    calls = []
    encode = model.encode
    model.encode = lambda s: calls.append(len(s)) or encode(s)
    with torch.no_grad(), model.frozen():
        a = model.score(np.arange(10))
        b = model.score(np.arange(30), torch.zeros(30, 5, dtype=torch.long))
        assert sum(calls) == 30  # every user once, whatever is scored after
    torch.testing.assert_close(a, model.score(np.arange(10)))  # the same states as outside
    assert sum(calls) == 40 and b.shape == (30, 5)


@pytest.mark.parametrize("name", ["sasrec", "gru4rec", "bert4rec"])
def test_full_ranking_scores_many_users_a_batch_and_the_batch_moves_no_figure(name):
    """A sequential model's scores are its users' states times the item table: it scores the
    whole catalogue for many users a batch (not the 25,000 cells of a model with activations
    per cell), and how many changes no figure."""
    from recsys_core.evaluation.scoring import evaluate_full_valid, evaluate_many, user_batch

    ds = chain_dataset(n_users=60, n_items=120, steps=8)
    split = loo_split(ds)
    model = zoo.make(name, ds.n_users, ds.n_items, {**SEQ, "epochs": 1})
    fit_model(model, split.train, split)
    model.eval()
    assert user_batch(30_000, model.score_cells) >= 30  # a 30,000-item catalogue: 30 users a batch
    calls, encode = [], model.encode
    model.encode = lambda s: calls.append(len(s)) or encode(s)
    wide = evaluate_full_valid(model, split), evaluate_many(model, split, ["full", "loo-uniform"])[0]
    assert max(calls) == len(split.eval_users)  # every user in one batch at 120 items
    model.score_cells = 2 * ds.n_items  # two users a batch
    calls.clear()
    narrow = evaluate_full_valid(model, split), evaluate_many(model, split, ["full", "loo-uniform"])[0]
    assert max(calls) == 2 and repr(wide) == repr(narrow)  # every figure to the bit (repr: nan is nan)


@pytest.mark.slow
def test_bert4rec_learns_a_planted_order():
    ds = chain_dataset()
    over = {**SEQ, "heads": 2, "mask_prob": 0.3}
    mrr = {
        name: fit_and_evaluate(name, ds, ["loo-uniform"], overrides=o).metrics["loo-uniform"]["MRR@10"]
        for name, o in [("bert4rec", over), ("ease", {"recency_half_life": 0})]
    }
    assert mrr["bert4rec"] > 0.9 and mrr["bert4rec"] > mrr["ease"] + 0.2, mrr


@pytest.mark.parametrize("name, block", [("sasrec", "sasrec"), ("bert4rec", "sasrec"), ("sasrec", "ligr")])
def test_the_attention_models_never_read_padding(name, block):
    """A window's states are the same however much padding comes before it: what lets a
    batch of short windows be cut to its longest (`batching="by-length"`)."""
    model = zoo.make(name, 4, 30, {"hidden": 16, "max_len": 12, "dropout": 0.0, "heads": 2, "block": block})
    model.eval()
    seqs = torch.randint(1, 31, (3, 12), generator=torch.Generator().manual_seed(0))
    seqs[:, :5] = 0
    with torch.no_grad():
        whole = model.encode(seqs)
        torch.testing.assert_close(model.encode(seqs[:, 5:]), whole[:, 5:], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(model.encode(seqs[:, 3:])[:, 2:], whole[:, 5:], atol=1e-5, rtol=1e-5)


def test_batches_by_length_hold_every_window_once_with_similar_lengths_cut_to_the_longest():
    from recsys_core.training.objectives import NextItem

    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(60), rng.integers(2, 40, 60))
    inter = _rows(users, rng.integers(0, 50, len(users)), np.arange(len(users)), n_users=60, n_items=50)
    model = zoo.make("sasrec", 60, 50, {"hidden": 8, "max_len": 30})
    cfg = zoo.config_for("sasrec", {"hidden": 8, "max_len": 30, "batch_size": 8, "batching": "by-length"})
    obj = NextItem()
    obj.setup(model, inter, cfg, torch.Generator().manual_seed(0))
    epochs = [[b[0] for b in obj.epoch_batches()] for _ in range(2)]
    for batches in epochs:
        assert sorted(torch.cat(batches).tolist()) == list(range(len(obj.seqs)))  # each window once
        spans = [int(obj.lengths[b].max() - obj.lengths[b].min()) for b in batches]
        assert np.mean(spans) <= 3  # similar lengths together (random batches: about 20 apart)
        for b in batches:
            cut = obj.windows_of(b)
            assert cut.shape[1] == int(obj.lengths[b].max()) and (cut > 0).sum() == (obj.seqs[b] > 0).sum()
    assert [b.tolist() for b in epochs[0]] != [b.tolist() for b in epochs[1]]  # a new order every epoch
    with pytest.raises(ConfigError, match="padding"):
        zoo.config_for("gru4rec", {"batching": "by-length"})


@pytest.mark.parametrize("loss", ["full", "bce"])
def test_an_untied_output_table_scores_the_items_and_still_learns_a_planted_order(loss):
    """`tied=False` (gSASRec's code's choice): items are read through one table and scored by
    another; the model still learns which item comes next, and its stored state holds the
    second table (a tied model's does not, so runs stored before the option reload as they
    were)."""
    ds = chain_dataset(n_users=60, n_items=50, steps=10)
    over = {**SEQ, "epochs": 30, "patience": 30, "tied": False, "loss": loss}
    res = fit_and_evaluate("sasrec", ds, ["loo-uniform"], overrides=over)
    m = res.recommender
    assert m.item_vectors() is m.out_emb and m.out_emb.shape == (ds.n_items, over["hidden"])
    assert not torch.allclose(m.out_emb, m.item_emb.weight[1:])
    users = torch.arange(3)
    assert torch.allclose(m.score(users), m.user_states(users) @ m.out_emb.T)
    assert res.metrics["loo-uniform"]["MRR@10"] > 0.8, res.metrics
    assert "out_emb" in m.state_dict()
    tied = zoo.make("sasrec", ds.n_users, ds.n_items, {**SEQ, "epochs": 1})
    assert "out_emb" not in tied.state_dict() and tied.item_vectors().data_ptr() == tied.item_emb.weight[1:].data_ptr()


def test_attention_dropout_drawn_as_floats_is_torchs_attention_on_average_and_never_reads_a_hidden_key():
    """Training attention on the CPU drops its weights with uniform draws (cheaper than the
    Bernoulli draws inside `scaled_dot_product_attention`): with no dropout it is the same
    attention; with dropout it is the same on average, keeps the expected scale of the weights,
    and a key the mask hides never reaches the output."""
    from torch.nn import functional as F

    from recsys_core.models.sequential import _attend_with_dropout

    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 2, 6, 4, generator=g) for _ in range(3))
    mask = torch.tril(torch.ones(6, 6, dtype=torch.bool)).expand(2, 1, 6, 6).clone()
    mask[1, :, :, 0] = False  # the second window's first slot is padding
    mask[1, :, 0, 0] = True  # (a padded query attends to itself)
    plain = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert torch.allclose(_attend_with_dropout(q, k, v, mask, 1e-12), plain, atol=1e-6)
    torch.manual_seed(0)
    mean = torch.stack([_attend_with_dropout(q, k, v, mask, 0.2) for _ in range(4000)]).mean(0)
    assert torch.allclose(mean, plain, atol=0.05), (mean - plain).abs().max()
    assert not torch.allclose(_attend_with_dropout(q, k, v, mask, 0.2), plain, atol=1e-3)
    v2 = v.clone()
    v2[1, :, 0] += 100.0  # the hidden key's value changes; no query that cannot see it moves
    torch.manual_seed(1)
    a = _attend_with_dropout(q, k, v, mask, 0.2)
    torch.manual_seed(1)
    b = _attend_with_dropout(q, k, v2, mask, 0.2)
    assert torch.equal(a[1, :, 1:], b[1, :, 1:]) and torch.equal(a[0], b[0])


@pytest.mark.slow
def test_gbce_against_many_negatives_learns_a_planted_order_given_the_epochs():
    """gSASRec's loss against 16 negatives a window (a third of this catalogue) learns the
    next item of a chain, as the full softmax does in 30 epochs; it starts slowly (0.07 MRR
    after 30 epochs here, 0.36 after 100, docs/results.md "Why gBCE failed"), so a short
    patience stops it before it learns."""
    ds = chain_dataset(n_users=60, n_items=50, steps=10)
    over = {**SEQ, "epochs": 200, "patience": 100, "loss": "gbce", "n_negatives": 16}
    over |= {"init": "torch", "validate_on": "uniform"}  # the settings that note measured
    res = fit_and_evaluate("sasrec", ds, ["loo-uniform"], overrides=over)
    assert res.metrics["loo-uniform"]["MRR@10"] > 0.9, res.metrics


def test_ligr_blocks_gate_each_sublayer_and_learn_a_planted_order():
    """`block="ligr"`: its own modules (the SASRec blocks' are absent, so a SASRec stored
    before the option keeps its keys), a gate per sublayer that scales what the sublayer adds
    (shut, the block passes its input through; open, it adds the whole output), and a SwiGLU
    feed-forward layer `ffn_factor` times as wide; trained, it learns which item comes next."""
    over = {"hidden": 16, "max_len": 8, "dropout": 0.0, "block": "ligr", "ffn_factor": 3}
    model = zoo.make("sasrec", 4, 30, over)
    assert len(model.gated) == 2 and not len(model.attns) and model.gated[0].up.out_features == 48
    assert not any(k.startswith("gated") for k in zoo.make("sasrec", 4, 30, {"hidden": 16}).state_dict())
    block = model.gated[0].eval()
    x = torch.randn(2, 8, 16, generator=torch.Generator().manual_seed(3))
    keep = torch.ones(2, 8, 1, dtype=torch.bool)
    with torch.no_grad():
        for gate in (block.attn_gate, block.ffn_gate):
            gate.weight.zero_()
            gate.bias.fill_(-1e4)  # shut
        torch.testing.assert_close(block(x, keep, None), x)
        block.ffn_gate.bias.fill_(1e4)  # the feed-forward gate open: its whole output is added
        y = block.ffn_norm(x)
        ffn = block.down(torch.nn.functional.silu(block.up(y)) * block.up_gate(y))
        torch.testing.assert_close(block(x, keep, None), x + ffn)
    ds = chain_dataset(n_users=60, n_items=50, steps=10)
    res = fit_and_evaluate(
        "sasrec", ds, ["loo-uniform"], overrides={**SEQ, "epochs": 30, "patience": 30, "block": "ligr"}
    )
    assert res.metrics["loo-uniform"]["MRR@10"] > 0.8, res.metrics


def test_dropout_masks_from_16_bit_draws_keep_the_share_and_the_expectation():
    """`keep_mask` draws four 16-bit masks from each 64-bit draw: each entry is kept with
    probability 1 - p (p to 1/65,536), independently of its neighbours (no entry of one 64-bit
    draw repeats another), the scale restores the mean exactly for the rounded p, any shape
    works, seeds reproduce it, and the float draws it replaced keep the same share."""
    from recsys_core.models import dropout

    x = torch.ones(37, 11, 13)  # not a multiple of four entries
    for p in (0.1, 0.2, 0.5):
        torch.manual_seed(0)
        keep, scale = dropout.keep_mask(x, p)
        assert keep.shape == x.shape and keep.dtype == torch.bool
        share = keep.float().mean().item()
        assert abs(share - (1 - p)) < 4 * (p * (1 - p) / x.numel()) ** 0.5, (p, share)
        assert scale == pytest.approx(1 / (1 - round(p * 65536) / 65536))
        lanes = keep.flatten()[: x.numel() // 4 * 4].view(-1, 4).float()
        assert all(abs(lanes[:, i].mean().item() - (1 - p)) < 0.05 for i in range(4))  # every lane uniform
        assert abs(torch.corrcoef(lanes.T)[0, 1].item()) < 0.1  # lanes of one draw independent
        torch.manual_seed(0)
        assert torch.equal(dropout.keep_mask(x, p)[0], keep)
    layer = dropout.Dropout(0.2).train()
    torch.manual_seed(1)
    assert layer(torch.ones(200_000)).mean().item() == pytest.approx(1.0, abs=0.01)
    assert layer(torch.ones(1000)).unique().tolist() == [0.0, pytest.approx(1.25, rel=1e-4)]
    saved = dropout.MASK_DRAW
    try:
        dropout.MASK_DRAW = "floats"
        keep, scale = dropout.keep_mask(torch.ones(200_000), 0.2)
        assert abs(keep.float().mean().item() - 0.8) < 0.005 and scale == pytest.approx(1.25)
    finally:
        dropout.MASK_DRAW = saved
