"""Shared problems, model cases and oracles for the core tests (models, optim, gradcheck).

Everything here is built from the registries, so a newly registered model or optimizer
is picked up by every test that iterates over ``model_cases()`` or ``optimizer_cases()``.
Nothing here computes an expected value with linfit's own solvers: the oracles are numpy,
scipy and scikit-learn.
"""

from __future__ import annotations

import numpy as np
import scipy.optimize

from linfit.models import MODELS, LinearModel
from linfit.optim import OPTIMIZERS

# Extra configurations of a registered model that change its loss (and so its capabilities).
# A model missing here is tested with its default hyper-parameters.
VARIANTS: dict[str, list[dict]] = {
    "svm": [{"variant": "hinge"}, {"variant": "squared_hinge"}],
}


def model_cases(reg: float = 1e-2) -> list[tuple[str, LinearModel]]:
    """``(id, model)`` for every registered model and each of its loss variants."""
    cases = []
    for name, cls in MODELS.items():
        for extra in VARIANTS.get(name, [{}]):
            model = cls(reg=reg, **extra)
            label = name + "".join(f"-{v}" for v in extra.values())
            cases.append((label, model))
    return cases


def exact_optimizers() -> list[str]:
    """Every registered optimizer but the stochastic ones (held to their own tests)."""
    return [name for name, opt in OPTIMIZERS.items() if not opt.stochastic]


def optimizer_cases() -> list[tuple[str, str, dict]]:
    """``(id, name, options)`` for every exact optimizer, plus Newton's CG path."""
    cases = [(name, name, {}) for name in exact_optimizers()]
    if "newton" in OPTIMIZERS:
        cases.append(("newton-cg", "newton", {"dense_limit": 0}))
    return cases


def classification_data(
    rng: np.random.Generator, n_samples: int, n_features: int, n_classes: int, noise: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian features, labels from a random linear model plus Gumbel noise (overlapping
    classes). Every class occurs at least once, so ``y.max() + 1 == n_classes``."""
    X = rng.standard_normal((n_samples, n_features))
    W = rng.standard_normal((n_features, n_classes))
    y = np.argmax(X @ W + noise * rng.gumbel(size=(n_samples, n_classes)), axis=1)
    y[:n_classes] = rng.permutation(n_classes)[: min(n_classes, n_samples)]
    return X, y


def regression_data(
    rng: np.random.Generator, n_samples: int, n_features: int, n_outputs: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """``y = X w + b + noise``; ``y`` is 1-D when ``n_outputs == 1``."""
    X = rng.standard_normal((n_samples, n_features))
    W = rng.standard_normal((n_features, n_outputs))
    Y = X @ W + rng.standard_normal(n_outputs) + 0.3 * rng.standard_normal((n_samples, n_outputs))
    return X, (Y[:, 0] if n_outputs == 1 else Y)


def data_for(
    model: LinearModel,
    rng: np.random.Generator,
    n_samples: int = 60,
    n_features: int = 4,
    n_classes: int = 3,
    n_outputs: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Data suited to ``model``: labels for classifiers, mostly positive targets for ReLU.

    ``n_outputs`` applies to regressors with several outputs (least squares): targets
    ``(n_samples, n_outputs)`` when it is above 1. Single-output models ignore it.
    """
    if model.is_classifier:
        return classification_data(rng, n_samples, n_features, n_classes)
    if not multi_output(model):
        n_outputs = 1
    X, y = regression_data(rng, n_samples, n_features, n_outputs)
    if model.name == "relu":
        y = np.maximum(y - y.min() + 0.5 * rng.random(n_samples), 0.0)
    return X, y


def multi_output(model: LinearModel) -> bool:
    """Whether ``model`` is a regressor with one output per column of a 2-D target."""
    return not model.is_classifier and model.n_outputs(np.zeros((1, 2))) == 2


def random_params(
    model: LinearModel, X: np.ndarray, y: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """A random point of the right size; for ReLU, one where most samples are active."""
    n_outputs = model.n_outputs(y)
    params = rng.standard_normal((X.shape[1] + 1) * n_outputs)
    if model.name == "relu":
        params[-1] = abs(params[-1]) + 2.0
    return params


def scipy_minimum(
    model: LinearModel, X: np.ndarray, y: np.ndarray
) -> scipy.optimize.OptimizeResult:
    """Independent reference: scipy's L-BFGS-B on the model's value and gradient, driven to
    its gradient tolerance (ftol=0 so it cannot stop on a stalled objective)."""
    x0 = np.zeros((X.shape[1] + 1) * model.n_outputs(y))
    return scipy.optimize.minimize(
        lambda p: model.loss_gradient(p, X, y),
        x0,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 20_000, "gtol": 1e-12, "ftol": 0.0, "maxcor": 30},
    )


def central_difference_gradient(f, x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Plain second-order central difference, written independently of linfit.checks.gradcheck."""
    g = np.empty_like(x)
    for i in range(x.size):
        step = h * max(1.0, abs(x[i]))
        e = np.zeros_like(x)
        e[i] = step
        g[i] = (f(x + e) - f(x - e)) / (2.0 * step)
    return g


def central_difference_jacobian(grad, x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Jacobian of a vector function ``grad`` (e.g. a Hessian from a gradient), column by
    column by central differences."""
    cols = []
    for i in range(x.size):
        step = h * max(1.0, abs(x[i]))
        e = np.zeros_like(x)
        e[i] = step
        cols.append((grad(x + e) - grad(x - e)) / (2.0 * step))
    return np.column_stack(cols)


def max_rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    """``max |a - b| / max(1, max |b|)``: the scale-aware distance the tolerances refer to."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b)))))


def center_bias(model: LinearModel, params: np.ndarray, n_features: int) -> np.ndarray:
    """``params`` with the biases shifted to mean zero.

    Softmax and the multiclass SVM only see differences of scores, so adding the same
    constant to every bias changes nothing: the biases are defined up to a common shift.
    """
    W, b = model.unpack(np.array(params, dtype=np.float64), n_features)
    return model.pack(W, b - b.mean())
