"""The interface every linfit model implements, and the conventions they share.

Conventions (written once, here):

- Data: ``X`` has shape ``(n_samples, n_features)``; scores are ``S = X @ W + b`` with
  ``W`` of shape ``(n_features, n_outputs)`` and ``b`` of shape ``(n_outputs,)``.
  Classifiers have one output per class and take ``y`` as integer codes ``0..K-1``
  of shape ``(n_samples,)``; regressors take ``y`` of shape ``(n_samples,)`` or
  ``(n_samples, n_outputs)``.
- Parameters travel as one flat float vector ``params = [W.ravel(), b]``: the weights
  row-major first, the bias last, so ``params.size == (n_features + 1) * n_outputs``.
  ``unpack`` and ``pack`` are the only places that know this layout.
- Objective = mean per-sample loss + ``reg * ||W||_F^2``. The bias is never penalized.
  With ``sample_weight`` (n_samples,), each sample's loss (and so its gradient and
  curvature) is multiplied by its weight: ``(1/n) sum_i w_i L_i``. ``linfit.fit`` passes
  weights of mean 1 (``w / mean(w)``), which makes this ``sum_i w_i L_i / sum_i w_i``,
  and mini-batches of such weights estimate it without bias.
- Layout: denominator. Every gradient has the shape of the parameter it
  differentiates (``dJ/dW`` is ``(n_features, n_outputs)``), and is returned flat,
  in the same layout as ``params``.
- Precision: products with ``X`` run in ``X``'s dtype (float32 where the user asks).
  The per-sample losses run on the small (n_samples, K) score arrays in float64, except
  in ``loss`` and ``loss_gradient`` of models with ``native_scores`` (softmax, SVM), which
  keep ``X``'s dtype: the scores already carry its rounding, numpy's pairwise sums keep
  float32 losses within ~1e-7 relative, and the bias gradient is summed in float64
  (``column_sums``), as its terms cancel. Measured on softmax, 240k x 100 x 10:
  a float32 evaluation took 0.55x the float64 one with float64 score arithmetic and 0.49x
  without it, the objective within 1e-8 relative of float64's. Curvature (Hessians) is
  always float64, as it is computed once and reused by every product.
- Passes over ``X``: ``loss_gradient`` and ``loss`` read ``X`` once, by blocks of rows
  (see :mod:`linfit.linalg.blocks`); a Hessian operator caches the per-sample curvature
  at a point, so each product ``H v`` costs one pass.

A model is stateless apart from its hyper-parameters: the fitted parameters live in
the caller's ``params`` vector, never in attributes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import numpy as np

from linfit.errors import CapabilityError, OptionError
from linfit.lazy import issparse
from linfit.linalg.blocks import block_of, map_blocks, row_blocks
from linfit.linalg.sparse import times, transposed_times
from linfit.models import curvature
from linfit.models.blocks import add_to_rows, column_sums, minibatches, rows_of, scratch
from linfit.optim.objective import Objective

HessianOperator = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class LinearModel(ABC):
    """Base class: a loss on linear scores ``S = X W + b`` plus ``reg * ||W||^2``.

    Subclasses set the capability flags and implement ``_loss_grad_scores`` (the
    per-sample loss and its gradient with respect to the scores). Models with a
    (generalized) Hessian also implement ``_curvature`` and ``_apply_curvature``.
    """

    reg: float = 1e-4
    fit_intercept: bool = True  # False: the bias is held at zero

    name: ClassVar[str]
    is_classifier: ClassVar[bool] = False
    differentiable: ClassVar[bool] = True  # gradient continuous everywhere
    has_hessian: ClassVar[bool] = True  # hessp / hessian available (exact a.e., or generalized)
    convex: ClassVar[bool] = True
    default_optimizer: ClassVar[str] = "lbfgs"
    native_scores: ClassVar[bool] = False  # loss and gradient in X's dtype (see Precision)

    def __post_init__(self) -> None:
        if not np.isfinite(self.reg) or self.reg < 0:
            raise OptionError(f"`reg` must be a finite number >= 0, got {self.reg}")

    # ---- parameter layout -------------------------------------------------------
    @staticmethod
    def unpack(params: np.ndarray, n_features: int) -> tuple[np.ndarray, np.ndarray]:
        """Split flat ``params`` into views ``W`` (n_features, K) and ``b`` (K,)."""
        n_outputs = params.size // (n_features + 1)
        if params.size != (n_features + 1) * n_outputs or n_outputs == 0:
            raise ValueError(
                f"params of size {params.size} do not fit {n_features} features plus a bias"
            )
        W = params[: n_features * n_outputs].reshape(n_features, n_outputs)
        return W, params[n_features * n_outputs :]

    @staticmethod
    def pack(W: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Inverse of ``unpack``: ``W`` (n_features, K) and ``b`` (K,) to a flat vector."""
        return np.concatenate([np.asarray(W).ravel(), np.asarray(b).ravel()])

    def hyperparams(self) -> dict[str, float | str]:
        """The constructor arguments, e.g. for a model file (``fit_intercept`` only when
        False, so the files of models with an intercept read as they always have)."""
        params = {f.name: getattr(self, f.name) for f in fields(self)}
        if params.get("fit_intercept", False):
            del params["fit_intercept"]
        return params

    # ---- shapes and starting point ---------------------------------------------
    def n_outputs(self, y: np.ndarray) -> int:
        """Number of score columns ``K`` needed for targets ``y``."""
        if self.is_classifier:
            return int(y.max()) + 1
        return 1 if y.ndim == 1 else y.shape[1]

    def initial_params(
        self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> np.ndarray:
        """Starting point for an optimizer: zeros, of size ``(n_features + 1) * K``."""
        return np.zeros((X.shape[1] + 1) * self.n_outputs(y), dtype=np.float64)

    # ---- forward pass ------------------------------------------------------------
    def decision_function(self, params: np.ndarray, X: np.ndarray) -> np.ndarray:
        """Scores ``X @ W + b``, shape (n_samples, K)."""
        W, b = self.unpack(params, X.shape[1])
        S = times(X, W.astype(X.dtype, copy=False))  # CSR rows: compiled, over the cores
        return add_to_rows(S, b.astype(X.dtype, copy=False))

    @abstractmethod
    def predict(self, params: np.ndarray, X: np.ndarray) -> np.ndarray:
        """Class codes (n_samples,) for classifiers; values (n_samples, K) for regressors."""

    # ---- objective -------------------------------------------------------------------
    @abstractmethod
    def _loss_grad_scores(
        self, S: np.ndarray, y: np.ndarray, need_grad: bool, weights: np.ndarray | None = None
    ) -> tuple[float, np.ndarray | None]:
        """Mean data loss and its gradient with respect to the scores.

        ``S`` is (n_samples, K) and may be overwritten; ``weights`` (n_samples,) or None
        multiplies each sample's loss. Returns ``(1/n) sum_i w_i L_i`` and
        ``G = dloss/dS`` of shape (n_samples, K) (already divided by n_samples), or
        ``None`` when ``need_grad`` is false.
        """

    def _scores64(self, params: np.ndarray, X: np.ndarray) -> np.ndarray:
        """Scores as float64 (n_samples, K): the product in X's dtype, the rest in float64."""
        return self.decision_function(params, X).astype(np.float64, copy=False)

    def _scores(self, params: np.ndarray, X: np.ndarray) -> np.ndarray:
        """Scores for ``loss`` and ``loss_gradient``: in X's dtype with ``native_scores``.
        For a dense block they are written into this thread's ``blocks.scratch`` array,
        valid until the thread's next block: the caller must be done with them by then."""
        if isinstance(X, np.ndarray):
            W, b = self.unpack(params, X.shape[1])
            S = scratch((X.shape[0], W.shape[1]), X.dtype)
            np.matmul(X, W.astype(X.dtype, copy=False), out=S)
            add_to_rows(S, b.astype(X.dtype, copy=False))
        else:
            S = self.decision_function(params, X)
        return S if self.native_scores else S.astype(np.float64, copy=False)

    def penalty(self, W: np.ndarray) -> float:
        """``reg * ||W||_F^2`` for ``W`` (n_features, K): the one place it is written."""
        return float(self.reg * np.dot(W.ravel(), W.ravel()))

    def loss(
        self,
        params: np.ndarray,
        X: np.ndarray,
        y: np.ndarray,
        sample_weight: np.ndarray | None = None,
    ) -> float:
        """Objective value alone (one pass over ``X``), e.g. for line searches."""
        W, _ = self.unpack(params, X.shape[1])
        n_samples = X.shape[0]

        def block(rows: slice) -> float:
            X_block = block_of(X, rows)
            S = self._scores(params, X_block)
            block_loss, _ = self._loss_grad_scores(S, y[rows], False, rows_of(sample_weight, rows))
            return block_loss * ((rows.stop - rows.start) / n_samples)

        data_loss = 0.0
        for block_loss in map_blocks(block, row_blocks(X, W.shape[1])):
            data_loss += block_loss
        return float(data_loss) + self.penalty(W)

    def loss_gradient(
        self,
        params: np.ndarray,
        X: np.ndarray,
        y: np.ndarray,
        sample_weight: np.ndarray | None = None,
    ) -> tuple[float, np.ndarray]:
        """Objective value and its gradient, flat like ``params``: one pass over ``X``
        (n, d); ``sample_weight`` (n,) multiplies each sample's loss (see the module)."""
        W, _ = self.unpack(params, X.shape[1])
        n_samples = X.shape[0]

        def block(rows: slice) -> tuple[float, np.ndarray, np.ndarray]:
            X_block = block_of(X, rows)
            # the block's mean loss and G (already divided by the block's rows), reweighted
            weight = (rows.stop - rows.start) / n_samples
            S = self._scores(params, X_block)
            block_loss, G = self._loss_grad_scores(S, y[rows], True, rows_of(sample_weight, rows))
            grad = transposed_times(X_block, G.astype(X.dtype, copy=False))  # from cache
            return weight * block_loss, weight * grad, weight * column_sums(G)

        data_loss, grad_W, grad_b = 0.0, 2.0 * self.reg * W, np.zeros(W.shape[1])
        for block_loss, block_W, block_b in map_blocks(block, row_blocks(X, W.shape[1])):
            data_loss += block_loss
            grad_W += block_W
            grad_b += block_b
        return float(data_loss) + self.penalty(W), self.pack(grad_W, grad_b)

    # ---- second order (linfit.models.curvature) -----------------------------------
    def _curvature(self, S: np.ndarray, y: np.ndarray) -> object:
        """Per-sample curvature of the loss in the scores at ``S`` (model specific)."""
        raise NotImplementedError

    def _apply_curvature(self, curvature: object, dS: np.ndarray) -> np.ndarray:
        """Map a score direction ``dS`` (n_samples, K) to ``d2loss/dS2 @ dS`` (same shape)."""
        raise NotImplementedError

    def _curvature_factors(
        self, curvature: object
    ) -> tuple[np.ndarray, np.ndarray | None, float] | None:
        """``(a, b, scale)`` with the per-sample curvature ``scale (diag(a_i) - b_i b_i^T)``
        (``a``, ``b`` (n_samples, K); ``b`` None: diagonal), which the compiled Hessian
        product on CSR rows takes (``curvature._curved_operator``); None (the default) when
        the curvature has no such form, and the products stay scipy's."""
        return None

    def require_hessian(self) -> None:
        if not self.has_hessian:
            raise CapabilityError(
                f"model {self.describe()} has no Hessian (its loss is not twice "
                "differentiable); use `solver` lbfgs, bfgs or gd, or a squared-hinge loss"
            )

    def describe(self) -> str:
        """Short human name, e.g. ``svm (hinge)``."""
        return self.name

    def hessian_operator(
        self,
        params: np.ndarray,
        X: np.ndarray,
        y: np.ndarray,
        sample_weight: np.ndarray | None = None,
    ) -> HessianOperator:
        """``v -> H(params) @ v`` for flat ``v``: curvature computed once, one pass per product."""
        self.require_hessian()
        return curvature.hessian_operator(self, params, X, y, sample_weight)

    def hessp(self, params: np.ndarray, X: np.ndarray, y: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Hessian-vector product ``H(params) @ v`` (flat), scipy's ``hessp`` plus data."""
        return self.hessian_operator(params, X, y)(v)

    def hessian(
        self,
        params: np.ndarray,
        X: np.ndarray,
        y: np.ndarray,
        sample_weight: np.ndarray | None = None,
    ) -> np.ndarray:
        """Dense Hessian, (n_params, n_params), for small problems (Newton by Cholesky);
        built from K(K+1)/2 weighted Gram matrices (``curvature.dense_hessian``)."""
        self.require_hessian()
        return curvature.dense_hessian(self, params, X, y, sample_weight)

    def preconditioner_diagonal(
        self, params: np.ndarray, X: Any, y: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> np.ndarray:
        """The Hessian's diagonal averaged over the K outputs of each feature and of the
        bias, flat like ``params``, for ``X`` (n, d) dense or sparse: what tron's conjugate
        gradient is preconditioned with (``curvature.preconditioner_diagonal`` says why)."""
        self.require_hessian()
        return curvature.preconditioner_diagonal(self, params, X, y, sample_weight)

    def kink_pattern(self, params: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray | None:
        """Which piece of a piecewise loss each sample sits on (None for smooth losses).

        Gradient checking compares this pattern across a finite-difference stencil to
        tell when the stencil straddles a kink.
        """
        return None

    def check_solution(self, params: np.ndarray, X: np.ndarray, y: np.ndarray) -> None:
        """Warn about a degenerate fit (a hook; most models have nothing to say)."""
        return None

    def objective(
        self,
        X: np.ndarray,
        y: np.ndarray,
        dense_hessian: bool | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> Objective:
        """Bind data to this model: the callables an optimizer needs, and nothing else.
        ``sample_weight`` (n_samples,) multiplies each sample's loss (see the module).

        ``hess_operator`` (Hessian-vector products) is offered whenever the model has a
        Hessian. The dense ``hess`` (which Newton factors by Cholesky instead of solving by
        conjugate gradient) depends on ``dense_hessian``:

        - ``None`` (default): the measured cost rule, offered only when forming it is
          cheap, ``curvature.dense_is_cheap``;
        - ``True``: always offered (e.g. to force Newton's Cholesky path);
        - ``False``: never offered (Newton then always uses conjugate gradient).

        A model without a Hessian offers neither, whatever ``dense_hessian`` says.
        """
        K = self.n_outputs(y)
        if dense_hessian is None:
            dense_hessian = curvature.dense_is_cheap(K, X.shape[1]) and not issparse(X)
        second = self.has_hessian
        dense = second and bool(dense_hessian)
        w = sample_weight
        shared = curvature.SharedCurvature(self, X, y, w)  # one curvature per point for both
        return Objective(
            fun=lambda p: self.loss_gradient(p, X, y, w),
            value=lambda p: self.loss(p, X, y, w),
            hess=(lambda p: self.hessian(p, X, y, w)) if dense else None,
            hess_operator=shared.operator if second else None,
            hess_diagonal=shared.diagonal if second else None,
            batches=lambda rng, rows: minibatches(self.loss_gradient, [(X, y, w)], rng, rows),
            n_samples=X.shape[0],
        )
