"""The scikit-learn estimators: sklearn's own checks, tooling, oracles and model files."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import load_iris, make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks
from typer.testing import CliRunner

from linfit.cli import app
from linfit.sklearn import (
    LeastSquaresRegressor,
    LinearSVMClassifier,
    ReLURegressor,
    SoftmaxClassifier,
    load,
)

IRIS = Path(__file__).resolve().parent.parent / "datasets" / "iris.csv"

# check_sample_weight_equivalence_on_dense_data compares predictions to rtol 1e-7 after a
# fit on 15 rows of 30 features, which the SVMs separate: the objective is then tiny and
# its curvature about 2 reg, so at reg 1e-4 the weighted and repeated fits (the same
# objective, to 3e-13) stop at points 1e-5 to 1e-1 apart in their predictions:
# - the hinge is not differentiable and BFGS only approaches its kinks: at reg 1e-4 (f*
#   1.7e-5) both fits stop on ftol after ~129 iterations, 2e-5 apart. Not the stopping
#   rule's floor (ftol * max(|f|, 1), absolute below 1): with a purely relative ftol they
#   run ~265 iterations and still end 2e-6 apart. At reg 1e-3 (f* 1.7e-4) they settle (2e-9);
# - on the squared hinge, L-BFGS's tol 1e-6 pins the coefficients to tol / (2 reg) only
#   (both runs converge, 7e-2 apart); Newton on the generalized Hessian solves that
#   piecewise quadratic exactly once it has the active set (2 iterations, 3e-12).
ESTIMATORS = [
    LinearSVMClassifier(reg=1e-3, max_iter=200),
    LinearSVMClassifier(
        loss="squared_hinge", multiclass="one-vs-rest", optimizer="newton", max_iter=200
    ),
    # the sparse-data solvers (issue 16): tron's and dcd's gradient tests, like Newton's
    # exactness above, pin the coefficients to tol / (2 reg) (dcd's squared hinge needs
    # more than its default 1,000 epochs for tol 1e-10 on the weight check's 15 rows);
    # dcd's hinge stops on its duality-gap certificate
    LinearSVMClassifier(
        reg=1e-2, loss="squared_hinge", multiclass="one-vs-rest", optimizer="tron", tol=1e-10
    ),
    LinearSVMClassifier(
        reg=1e-2,
        loss="squared_hinge",
        multiclass="one-vs-rest",
        optimizer="dcd",
        tol=1e-10,
        max_iter=5000,
    ),
    LinearSVMClassifier(reg=1e-3, multiclass="one-vs-rest", optimizer="dcd", tol=1e-10),
    SoftmaxClassifier(max_iter=200),
    SoftmaxClassifier(optimizer="tron"),
    LeastSquaresRegressor(max_iter=200),
    LeastSquaresRegressor(method="lstsq"),
    ReLURegressor(max_iter=200),
]

# Checks that cannot pass, by design; keyed by estimator class name.
EXPECTED_FAILURES: dict[str, dict[str, str]] = {}


def expected_failed_checks(estimator) -> dict[str, str]:
    return EXPECTED_FAILURES.get(type(estimator).__name__, {})


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


def test_pipeline_grid_search_and_cross_val(iris):
    X, y = iris
    pipe = make_pipeline(StandardScaler(), SoftmaxClassifier())
    assert pipe.fit(X, y).score(X, y) > 0.9
    grid = GridSearchCV(
        LinearSVMClassifier(loss="squared_hinge"), {"reg": [1e-4, 1e-2, 1.0]}, cv=3
    ).fit(X, y)
    assert grid.best_params_["reg"] in (1e-4, 1e-2, 1.0)
    assert grid.best_score_ > 0.9
    Xr, yr = make_regression(n_samples=90, n_features=4, noise=1.0, random_state=0)
    scores = cross_val_score(LeastSquaresRegressor(), Xr, yr, cv=3)
    assert scores.shape == (3,) and (scores > 0.99).all()


def test_fitted_attributes_and_shapes(iris):
    X, y = iris
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    clf = SoftmaxClassifier().fit(frame, y)
    assert clf.coef_.shape == (3, 4) and clf.intercept_.shape == (3,)
    assert list(clf.feature_names_in_) == ["a", "b", "c", "d"]
    assert clf.n_features_in_ == 4 and clf.n_iter_ > 0
    assert clf.trained_.feature_names == ("a", "b", "c", "d")
    np.testing.assert_allclose(clf.decision_function(frame), X @ clf.coef_.T + clf.intercept_)
    np.testing.assert_allclose(clf.predict_proba(frame).sum(axis=1), 1.0)

    binary = y > 0
    svm = LinearSVMClassifier(loss="squared_hinge").fit(X, binary)
    assert svm.coef_.shape == (1, 4) and svm.intercept_.shape == (1,)
    np.testing.assert_allclose(svm.decision_function(X), X @ svm.coef_[0] + svm.intercept_[0])
    np.testing.assert_array_equal(svm.predict(X), svm.decision_function(X) > 0)

    reg = ReLURegressor().fit(X[:, :3], X[:, 3])
    assert reg.coef_.shape == (3,) and isinstance(reg.intercept_, float)
    multi = LeastSquaresRegressor(method="pinv").fit(X[:, :2], X[:, 2:])
    assert multi.coef_.shape == (2, 2) and multi.predict(X[:, :2]).shape == (150, 2)


def test_convergence_warning_is_sklearns_and_names_the_estimators_parameters(iris):
    X, y = iris
    with pytest.warns(ConvergenceWarning, match="not converged") as caught:
        SoftmaxClassifier(max_iter=2).fit(X, y)
    assert str(caught[0].message).endswith("try more max_iter, another optimizer, a larger tol")
    with pytest.warns(ConvergenceWarning, match="another method, a larger tol"):
        LeastSquaresRegressor(method="gd", max_iter=2).fit(X[:, :3], X[:, 3])


def test_bad_option_is_a_value_error(iris):
    X, y = iris
    with pytest.raises(ValueError, match="unknown optimizer"):
        SoftmaxClassifier(optimizer="nope").fit(X, y)
    with pytest.raises(ValueError, match="reg"):
        LeastSquaresRegressor(reg=-1.0).fit(X, y)


def test_random_state_seeds_sgds_shuffles():
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=2000, n_features=5, random_state=0)  # 8 batches

    def coef(random_state) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # sgd ends at its epochs
            model = SoftmaxClassifier(optimizer="sgd", random_state=random_state)
            return model.fit(X, y).coef_

    assert np.array_equal(coef(1), coef(1))
    assert not np.array_equal(coef(1), coef(2))
    state = np.random.RandomState(5)
    assert np.array_equal(coef(np.random.RandomState(5)), coef(state))


def test_softmax_matches_logistic_regression():
    X, y = make_classification(
        n_samples=300, n_features=5, n_informative=4, n_redundant=0, n_classes=3, random_state=0
    )
    X = StandardScaler().fit_transform(X)
    reg = 1e-2
    ours = SoftmaxClassifier(reg=reg, tol=1e-12, max_iter=10_000, standardize=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # tol 1e-12 may stall first
        ours.fit(X, y)
    theirs = LogisticRegression(C=1.0 / (2 * X.shape[0] * reg), tol=1e-12, max_iter=10_000)
    theirs.fit(X, y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=1e-4)
    # the intercepts are defined up to a common shift
    np.testing.assert_allclose(
        ours.intercept_ - ours.intercept_.mean(),
        theirs.intercept_ - theirs.intercept_.mean(),
        atol=1e-4,
    )


@pytest.mark.parametrize(
    ("method", "rtol"),
    [("normal", 1e-8), ("pinv", 1e-8), ("lstsq", 1e-8), ("newton", 1e-8), ("lbfgs", 1e-6)],
)
def test_least_squares_matches_numpy_lstsq(method, rtol):
    X, y = make_regression(n_samples=200, n_features=6, noise=5.0, random_state=1)
    X = X * [1, 10, 100, 0.1, 1, 3] + 5.0
    est = LeastSquaresRegressor(reg=0.0, method=method, tol=1e-12, max_iter=5000).fit(X, y)
    theta = np.linalg.lstsq(np.column_stack([X, np.ones(len(X))]), y, rcond=None)[0]
    np.testing.assert_allclose(est.coef_, theta[:-1], rtol=rtol, atol=rtol)
    np.testing.assert_allclose(est.intercept_, theta[-1], rtol=rtol, atol=rtol)


def test_cli_trained_model_loads_as_estimator(tmp_path):
    runner = CliRunner()
    path = tmp_path / "m.linfit"
    result = runner.invoke(app, ["train", str(IRIS), "--out", str(path), "--quiet"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["predict", str(path), str(IRIS), "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    expected = json.loads(result.stdout)["predictions"]

    est = load(path)
    assert isinstance(est, SoftmaxClassifier)
    frame = pd.read_csv(IRIS).drop(columns="target")
    assert list(est.feature_names_in_) == list(frame.columns)
    assert est.predict(frame).tolist() == expected
    assert est.standardize and est.optimizer == "lbfgs"


@pytest.mark.parametrize(
    "estimator",
    [
        LinearSVMClassifier(loss="squared_hinge", margin=2.0, multiclass="one-vs-rest"),
        SoftmaxClassifier(reg=1e-3, standardize=False),
        LeastSquaresRegressor(method="normal"),
        ReLURegressor(optimizer="newton"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_save_load_round_trip(estimator, iris, tmp_path):
    X, y = iris
    if not estimator._is_classifier:
        X, y = X[:, :3], X[:, 3]
    estimator.fit(X, y)
    path = tmp_path / "e.linfit"
    estimator.save(path)
    back = load(path)
    assert type(back) is type(estimator)
    # the file records the optimizer that ran (None resolves to the model's default),
    # not max_iter and tol
    resolved = estimator.trained_.summary["optimizer"]
    key = "method" if isinstance(estimator, LeastSquaresRegressor) else "optimizer"
    expected = {**estimator.get_params(), key: resolved, "max_iter": None, "tol": 1e-6}
    assert back.get_params() == expected
    np.testing.assert_array_equal(back.predict(X), estimator.predict(X))
    np.testing.assert_array_equal(back.coef_, estimator.coef_)
    assert not hasattr(back, "feature_names_in_")


# -- sample weights, class weights and warm starts ------------------------------------


@pytest.fixture(scope="module")
def three_classes():
    X, y = make_classification(
        n_samples=90, n_features=5, n_informative=4, n_redundant=0, n_classes=3, random_state=3
    )
    return X * [1.0, 10.0, 0.1, 3.0, 1.0] + 2.0, y


def _weighted_cases():
    """(estimator, the linfit model it trains, its solver): one per estimator."""
    from linfit import models

    return [
        (SoftmaxClassifier(reg=1e-2), models.SoftmaxClassifier(reg=1e-2), None),
        (
            LinearSVMClassifier(reg=1e-2, loss="squared_hinge"),
            models.LinearSVM(reg=1e-2, variant="squared_hinge"),
            None,
        ),
        (LeastSquaresRegressor(reg=1e-2), models.LeastSquares(reg=1e-2), "lbfgs"),
        (LeastSquaresRegressor(method="normal"), models.LeastSquares(reg=1e-4), "normal"),
        (ReLURegressor(reg=1e-2), models.ReLURegressor(reg=1e-2), None),
    ]


def _targets(estimator, X, y):
    """``y`` for a classifier; for a regressor, positive values (n,) from ``X`` (n, d)."""
    if estimator._is_classifier:
        return y
    return X @ np.array([0.5, 0.1, -3.0, 0.2, 1.0]) + 5.0 + 0.1 * np.sin(np.arange(len(X)))


@pytest.mark.parametrize("case", range(5))
def test_sample_weight_fits_as_linfit_fit(case, three_classes):
    import linfit

    estimator, model, solver = _weighted_cases()[case]
    X, y = three_classes
    y = _targets(estimator, X, y)
    w = np.random.default_rng(0).uniform(0.0, 3.0, size=len(y))
    estimator.fit(X, y, sample_weight=w)
    trained = linfit.fit(model, X, y, solver=solver, sample_weight=w)
    # the same call with the same weights: the same arithmetic, bit for bit
    for ours, theirs in zip(estimator.trained_.coefficients(), trained.coefficients(), strict=True):
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("case", range(5))
def test_integer_sample_weights_fit_as_repeated_rows(case, three_classes):
    estimator, _, _ = _weighted_cases()[case]
    estimator.set_params(tol=1e-10, max_iter=10_000)
    X, y = three_classes
    y = _targets(estimator, X, y)
    counts = np.random.default_rng(1).integers(0, 4, size=len(y))
    weighted = clone(estimator).fit(X, y, sample_weight=counts)
    repeated = clone(estimator).fit(X.repeat(counts, axis=0), y.repeat(counts))
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(weighted.intercept_, repeated.intercept_, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "estimator",
    [SoftmaxClassifier(reg=1e-2), LinearSVMClassifier(reg=1e-2, loss="squared_hinge")],
    ids=lambda e: type(e).__name__,
)
def test_class_weight_equals_explicit_row_weights(estimator, three_classes):
    X, y = three_classes
    y = np.where(y == 2, "c", np.where(y == 1, "b", "a"))[:80]  # counts not all equal
    X = X[:80]
    labels, counts = np.unique(y, return_counts=True)
    per_class = dict(zip(labels, len(y) / (labels.size * counts), strict=True))
    rows = np.array([per_class[label] for label in y])
    balanced = clone(estimator).set_params(class_weight="balanced").fit(X, y)
    explicit = clone(estimator).fit(X, y, sample_weight=rows)
    by_dict = clone(estimator).set_params(class_weight={"a": 2.0, "c": 0.5}).fit(X, y)
    by_rows = clone(estimator).fit(X, y, sample_weight=np.select([y == "a", y == "c"], [2, 0.5], 1))
    np.testing.assert_allclose(balanced.coef_, explicit.coef_, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(by_dict.coef_, by_rows.coef_, rtol=1e-10, atol=1e-10)
    assert not np.allclose(balanced.coef_, clone(estimator).fit(X, y).coef_)


@pytest.mark.parametrize(
    "estimator",
    [
        SoftmaxClassifier(),
        LinearSVMClassifier(loss="squared_hinge"),
        LeastSquaresRegressor(),
        ReLURegressor(),
    ],
    ids=lambda e: type(e).__name__,
)
def test_warm_start_refit_starts_at_the_optimum(estimator, three_classes):
    X, y = three_classes
    y = _targets(estimator, X, y)
    warm = clone(estimator).set_params(warm_start=True).fit(X, y)
    first, n_iter = warm.coef_.copy(), warm.n_iter_
    assert n_iter > 2
    assert warm.fit(X, y).n_iter_ <= 2
    np.testing.assert_allclose(warm.coef_, first, rtol=1e-5, atol=1e-6)
    # without warm_start a refit starts afresh
    assert clone(estimator).fit(X, y).fit(X, y).n_iter_ == n_iter


def test_warm_start_on_other_features_is_a_one_line_value_error(three_classes):
    X, y = three_classes
    clf = SoftmaxClassifier(warm_start=True).fit(X, y)
    with pytest.raises(ValueError, match="features") as caught:
        clf.fit(X[:, :4], y)
    assert "\n" not in str(caught.value)
    with pytest.raises(ValueError, match="classes"):
        SoftmaxClassifier(warm_start=True).fit(X, y).fit(X[y < 2], y[y < 2])
    # without warm_start, refitting on other features is a fresh fit
    assert SoftmaxClassifier().fit(X, y).fit(X[:, :4], y).coef_.shape == (3, 4)


def test_loaded_model_warm_starts(three_classes, tmp_path):
    X, y = three_classes
    SoftmaxClassifier().fit(X, y).save(tmp_path / "m.linfit")
    assert load(tmp_path / "m.linfit").set_params(warm_start=True).fit(X, y).n_iter_ <= 2


def test_bad_sample_weights_are_value_errors(three_classes):
    X, y = three_classes
    with pytest.raises(ValueError, match="Negative values"):
        SoftmaxClassifier().fit(X, y, sample_weight=-np.ones(len(y)))
    with pytest.raises(ValueError, match="one class of positive weight"):
        SoftmaxClassifier().fit(X, y, sample_weight=(y == 1).astype(float))
    with pytest.raises(ValueError, match="class_weight"):
        SoftmaxClassifier(class_weight="heavy").fit(X, y)
