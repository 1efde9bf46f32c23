"""Predictor contract (every family), selection, screening, transfer, features."""

from __future__ import annotations

import numpy as np
import pytest

from nasco.evo import canonicalize, compile_space, default_space, sample_genomes
from nasco.evo.features import feature_names, genome_features
from nasco.evo.genome import genome_costs
from nasco.surrogate import (
    FAMILIES,
    PredictorError,
    fit_with_transfer,
    make_predictor,
    rank_quality,
    screen,
    select_predictor,
)

LAYOUT = compile_space(default_space((1, 8, 8), 10))


def _data(n, seed=0, shift=0.0):
    """Features of random genomes and a smooth synthetic 'error' that depends on them."""
    genomes = sample_genomes(LAYOUT, np.random.default_rng(seed), n)
    X = genome_features(LAYOUT, genomes)
    names = feature_names(LAYOUT)
    rng = np.random.default_rng(seed + 1)
    y = (0.3 - 0.02 * X[:, names.index("log_macs")] + 0.05 * (X[:, names.index("mean_weight_bits")] < 3)
         + 0.1 * X[:, names.index("mean_prune")] + shift * X[:, 0] + 0.005 * rng.standard_normal(n))
    return X, y


@pytest.fixture(params=sorted(FAMILIES))
def family(request):
    return request.param


def test_contract(family):
    X, y = _data(60)
    model = make_predictor(family, seed=3)
    assert model.fit(X[:40], y[:40]) is model
    mean, std = model.predict(X[40:])
    assert mean.shape == std.shape == (20,) and (std >= 0).all() and np.isfinite(mean).all()
    again = make_predictor(family, seed=3).fit(X[:40], y[:40]).predict(X[40:])
    np.testing.assert_array_equal(mean, again[0])
    np.testing.assert_array_equal(std, again[1])
    assert rank_quality(y[40:], mean)[0] > 0.3  # it learned something


def test_contract_errors(family):
    X, y = _data(40)
    model = make_predictor(family)
    bad = y.copy()
    bad[3] = np.nan
    with pytest.raises(PredictorError, match="NaN or inf"):
        model.fit(X, bad)
    bad[3] = np.inf
    with pytest.raises(PredictorError, match="NaN or inf"):
        model.fit(X, bad)
    n = FAMILIES[family].min_records
    with pytest.raises(PredictorError, match=rf"{n - 1} records are too few for {family}; it needs at least {n}"):
        model.fit(X[: n - 1], y[: n - 1])
    with pytest.raises(PredictorError, match="not fitted"):
        model.predict(X)
    model.fit(X, y)
    with pytest.raises(PredictorError, match=rf"X has shape \(4, {X.shape[1] - 1}\); allowed: \(N, {X.shape[1]}\)"):
        model.predict(X[:4, :-1])


def test_selection_reports_every_family_and_refits():
    X, y = _data(80)
    model, scores = select_predictor(X, y, folds=4, seed=0)
    assert sorted(s.family for s in scores) == sorted(FAMILIES)
    assert scores[0].score == max(s.score for s in scores)
    assert model.name == scores[0].family and model.n_features_in_ == X.shape[1]
    with pytest.raises(PredictorError, match="too few"):
        select_predictor(X[:5], y[:5])


def test_screen_respects_exclusions_and_picks_the_front():
    rng = np.random.default_rng(0)
    mean, std, costs = rng.random(200), rng.random(200) * 0.1, rng.random((200, 2))
    feasible = rng.random(200) > 0.2
    exclude = rng.random(200) > 0.8
    chosen = screen(mean, std, costs, 20, feasible=feasible, exclude=exclude)
    assert len(chosen) == 20 == len(set(chosen.tolist()))
    assert feasible[chosen].all() and not exclude[chosen].any()
    only_exploit = screen(mean, std, costs, 10, exploration=0.0)
    from nasco.kernels.pareto import pareto_ranks

    ranks = pareto_ranks(np.column_stack([mean, costs]))
    assert ranks[only_exploit].max() <= np.sort(ranks)[9]
    assert len(screen(mean, std, costs, 5, feasible=np.zeros(200, bool))) == 0
    with pytest.raises(PredictorError, match="exploration=2"):
        screen(mean, std, costs, 5, exploration=2)


def test_transfer_is_chosen_only_when_it_helps():
    X_src, y_src = _data(120, seed=10)
    X_tgt, y_tgt = _data(30, seed=20, shift=0.01)  # a related task
    model, scores = fit_with_transfer(X_tgt, y_tgt, X_src, y_src, families=["trees", "gp"], folds=3)
    best_plain, best_transfer = scores["plain"][0].score, scores["transfer"][0].score
    assert model.uses_transfer == (best_transfer > best_plain)
    mean, std = model.predict(X_tgt[:5])
    assert mean.shape == (5,) and (std >= 0).all()


@pytest.mark.parametrize("encoding", ["ordinal", "onehot"])
def test_features(encoding):
    genomes = sample_genomes(LAYOUT, np.random.default_rng(0), 50)
    X = genome_features(LAYOUT, genomes, encoding)
    assert X.shape == (50, len(feature_names(LAYOUT, encoding))) and np.isfinite(X).all()
    np.testing.assert_allclose(np.exp(X[:, -14]), genome_costs(LAYOUT, genomes)[:, 0])
    raw = sample_genomes(LAYOUT, np.random.default_rng(1), 50, canonical=False)  # inactive genes set at random
    np.testing.assert_array_equal(genome_features(LAYOUT, raw, encoding),
                                  genome_features(LAYOUT, canonicalize(LAYOUT, raw), encoding))


def test_encode_kernel_equals_reference():
    from nasco.kernels.encode import encode_genomes, encode_reference

    genomes = sample_genomes(LAYOUT, np.random.default_rng(1), 300, canonical=False)
    varying = np.flatnonzero(LAYOUT.upper_bounds > 1)
    field = np.random.default_rng(2).integers(0, 4, LAYOUT.n_genes)
    np.testing.assert_allclose(encode_genomes(LAYOUT.tables, genomes, varying, field),
                               encode_reference(LAYOUT.tables, genomes, varying, field), rtol=1e-12)


def test_fast_gp_and_rbf_predictions_equal_the_library_ones():
    from scipy.interpolate import RBFInterpolator

    from nasco.surrogate.predictors import GaussianProcess, RBFEnsemble

    X, y = _data(80)
    gp = GaussianProcess(seed=0).fit(X[:60], y[:60])
    Z = (X[60:] - gp.x_mean_) / gp.x_scale_
    mean, std = gp.model_.predict(Z, return_std=True)
    ours = gp._predict(Z)
    np.testing.assert_allclose(ours[0], mean, rtol=1e-4, atol=1e-4)  # float32 distances
    np.testing.assert_allclose(ours[1], std, rtol=1e-4, atol=1e-4)

    rbf = RBFEnsemble(seed=0, members=1).fit(X[:60], y[:60])
    centers = rbf.centers_[0]
    keep = [np.flatnonzero((centers[i] == (X[:60] - rbf.x_mean_) / rbf.x_scale_).all(axis=1))[0]
            for i in range(len(centers))]
    y_std = (y[:60] - rbf.y_mean_) / rbf.y_scale_
    scipy_rbf = RBFInterpolator(centers, y_std[keep], kernel="linear", degree=0, smoothing=rbf.smoothing)
    Z = (X[60:] - rbf.x_mean_) / rbf.x_scale_
    np.testing.assert_allclose(rbf._predict(Z)[0], scipy_rbf(Z), rtol=1e-4, atol=1e-4)  # float32 distances
