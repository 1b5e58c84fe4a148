"""``linfit cv`` and ``linfit.fitting.cv``: folds, the warm-started path, the choice.

Oracles: scikit-learn's ``cross_val_score`` of its ``LogisticRegression`` on the same
folds, standardized on each fold's training rows, with ``C = 1 / (2 n_train reg)``
(the same penalized problem); each fold's score recomputed by a cold ``linfit.fit``;
the one-standard-error rule recomputed from the scores.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from cli_helpers import DIABETES, WINE, invoke
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import linfit
from linfit.errors import DataError
from linfit.fitting.cv import choose, cross_validate, fold_of, score
from linfit.models import LeastSquares, SoftmaxClassifier

REGS = np.logspace(-4, -1, 5)


def _problem(seed=0, n=300):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6)) * [1, 4, 0.3, 2, 1, 8]
    y = np.argmax(X[:, :3] @ rng.normal(size=(3, 3)) + 2 * rng.gumbel(size=(n, 3)), axis=1)
    return X, y


def test_stratified_folds_deal_every_class_evenly():
    _, y = _problem()
    fold = fold_of(y, 5, seed=3, stratify=True)
    assert set(np.unique(fold)) == set(range(5))
    sizes = np.bincount(fold)
    assert sizes.max() - sizes.min() <= 1
    for label in np.unique(y):
        per_fold = np.bincount(fold[y == label], minlength=5)
        assert per_fold.max() - per_fold.min() <= 1


def test_too_many_folds_for_the_smallest_class_is_refused():
    y = np.array([0] * 10 + [1] * 3)
    with pytest.raises(DataError, match="smallest class"):
        fold_of(y, 4, seed=0, stratify=True)


def test_the_path_scores_equal_scikit_learns_on_the_same_folds():
    X, y = _problem()
    result = cross_validate(SoftmaxClassifier(), X, y, REGS, folds=5, seed=1, metric="log-loss",
                            gtol=1e-9, refit=False)  # fmt: skip
    fold = fold_of(y, 5, seed=1, stratify=True)
    splits = [(np.flatnonzero(fold != i), np.flatnonzero(fold == i)) for i in range(5)]
    for j, reg in enumerate(result.regs):
        per_fold = []
        for train, valid in splits:
            C = 1.0 / (2 * train.size * reg)
            pipe = make_pipeline(
                StandardScaler(), LogisticRegression(C=C, tol=1e-10, max_iter=10_000)
            )
            per_fold.append(
                -cross_val_score(pipe, X, y, cv=[(train, valid)], scoring="neg_log_loss")[0]
            )
        np.testing.assert_allclose(result.scores[:, j], per_fold, rtol=1e-5)


def test_each_warm_started_score_equals_a_cold_fit():
    X, y = _problem(1)
    w = np.random.default_rng(2).uniform(0.5, 2.0, y.size)
    result = cross_validate(LeastSquares(), X, y.astype(float), REGS, folds=3, seed=0,
                            metric="rmse", sample_weight=w, gtol=1e-10, refit=False)  # fmt: skip
    fold = fold_of(y, 3, seed=0, stratify=False)
    for j, reg in enumerate(result.regs):
        for i in range(3):
            train, valid = fold != i, fold == i
            cold = linfit.fit(LeastSquares(reg=reg), X[train], y[train].astype(float),
                              solver="qr", sample_weight=w[train])  # fmt: skip
            expected = score(cold, X[valid], y[valid].astype(float), w[valid], "rmse")
            assert result.scores[i, j] == pytest.approx(expected, rel=1e-7)


def test_one_standard_error_takes_the_strongest_within_it():
    # columns are regs, strongest first; the best mean (0.87) has a wide spread
    scores = np.array(
        [[0.80, 0.86, 0.84, 0.84], [0.82, 0.87, 0.90, 0.83], [0.81, 0.855, 0.87, 0.85]]
    )
    assert choose(scores, True, one_se=False) == 2
    mean, se = scores.mean(axis=0), scores.std(axis=0, ddof=1)[2] / np.sqrt(3)
    expected = int(np.flatnonzero(mean >= mean[2] - se)[0])
    assert choose(scores, True, one_se=True) == expected == 1
    assert choose(-scores, False, one_se=False) == 2  # lower is better: the same choice


def test_cv_command_saves_the_refit_and_its_plot(tmp_path):
    out, plot = tmp_path / "best.linfit", tmp_path / "cv.png"
    result = invoke(["cv", WINE, "--reg", "1e-3:1e-1:4", "--folds", "3", "--out", out,
                     "--plot", plot, "--json", "-q"])  # fmt: skip
    payload = json.loads(result.stdout)
    assert len(payload["regs"]) == 4 and np.array(payload["scores"]).shape == (3, 4)
    assert payload["best_reg"] == payload["regs"][int(np.argmax(payload["mean"]))]
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = linfit.load(out)
    assert saved.model.reg == pytest.approx(payload["best_reg"])


def test_cv_command_on_a_regressor_with_rmse(tmp_path):
    out = tmp_path / "m.linfit"
    result = invoke(["cv", DIABETES, "--model", "least-squares", "--metric", "rmse",
                     "--reg", "0,1e-3,1e-1", "--out", out, "--json", "-q"])  # fmt: skip
    payload = json.loads(result.stdout)
    assert payload["best_reg"] == payload["regs"][int(np.argmin(payload["mean"]))]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--folds", "100"], "smallest class"),
        (["--folds", "1"], "at least 2"),
        (["--reg", "1:x"], "LOW:HIGH:N"),
        (["--metric", "r2"], "for regressors"),
        (["--model", "svm", "--metric", "log-loss"], "probabilities"),
        (["--class-weight", "1=2,9=1"], "not among the labels"),
    ],
)
def test_bad_cv_flags_are_one_line_and_write_nothing(tmp_path, args, message):
    out = tmp_path / "m.linfit"
    result = invoke(["cv", WINE, *args, "--out", out], ok=False)
    assert result.exit_code == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert not out.exists()
