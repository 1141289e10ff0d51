"""The rectified fine-tuning scaling law and the Accept-then-Stop (AtS) selector. Never imports torch.

Lin et al., "Selecting Large Language Model to Fine-tune via Rectified Scaling Law", ICML 2024
(arXiv 2402.02314). Fine-tuning a model on D examples gives a test loss that follows

    L(D) = B / (D_l + D^beta) + E

where D_l is the data the model has, in effect, already learned in pre-training, beta the power-law
exponent and E the irreducible loss. Small D (D^beta << D_l) is the flat *pre-power phase*; large D
(D^beta >> D_l) is the *power phase*, where L - E ~ B * D^-beta, a straight line in log-log space.

AtS ranks candidates from losses measured on nested subsets (sizes n_0 < n_1 < ... < n_m, doubling):
it fits log L = a + s * log D to the largest k points, then walks to smaller subsets, *accepting* a
point while its standardized residual |r| / std(residuals of the fit) stays <= delta and refitting,
and *stops* at the first point beyond delta, the end of the pre-power phase. The line through the
accepted points predicts the loss at the full data size; the lowest predicted loss ranks first. Like
the authors' code, AtS fits that line (the power phase's form when E is small next to B * D^-beta),
not the four parameters of the law; :func:`fit_rectified_law` fits those when wanted.
:func:`power_phase_start` follows the authors' published code (``src/model_select.py`` of
``linhaowei1/Fine-tuning-Scaling-Law``) step by step, including its one quirk (see there).

AtS needs only numpy; :func:`fit_rectified_law`, which fits all four parameters, imports scipy.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pydantic import Field

from damoc.registry import MethodParams

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]


class AtsParams(MethodParams):
    """Accept-then-Stop settings (Lin et al., ICML 2024, arXiv 2402.02314; the paper's defaults)."""

    k: int = Field(3, ge=2, description="points (the largest subsets) in the first power-phase fit")
    delta: float = Field(5.0, gt=0, description="standardized residual beyond which a point stops the walk")


@dataclass(frozen=True)
class RectifiedLaw:
    """The four parameters of L(D) = B / (D_l + D^beta) + E."""

    b: float
    d_l: float
    beta: float
    e: float

    def loss(self, data_size: Sequence[float] | FloatArray) -> FloatArray:
        """L(D) at each data size D >= 0 (D = 0 is the zero-shot loss B / D_l + E)."""
        d = np.asarray(data_size, dtype=np.float64)
        return self.b / (self.d_l + np.power(d, self.beta)) + self.e


def _check_curve(
    data_sizes: Sequence[float], losses: Sequence[float], allow_zero: bool
) -> tuple[FloatArray, FloatArray]:
    """Validate one loss curve: equal lengths, sizes finite, strictly increasing and > 0 (or >= 0), losses > 0."""
    x, y = np.asarray(data_sizes, dtype=np.float64), np.asarray(losses, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape or x.size < 2:
        raise ValueError(f"need two equal-length 1-D sequences of >= 2 points, got shapes {x.shape} and {y.shape}")
    bound = ">= 0" if allow_zero else "> 0"
    if not (np.all(np.isfinite(x)) and np.all(x >= 0 if allow_zero else x > 0) and np.all(np.diff(x) > 0)):
        raise ValueError(f"data sizes must be finite, {bound} and strictly increasing, got {x.tolist()}")
    if not (np.all(np.isfinite(y)) and np.all(y > 0)):
        raise ValueError(f"losses must be finite and > 0, got {y.tolist()}")
    return x, y


def _fit_line(log_x: FloatArray, log_y: FloatArray) -> tuple[float, float]:
    """Ordinary least squares log_y = intercept + slope * log_x; returns (slope, intercept)."""
    slope, intercept = np.polyfit(log_x, log_y, 1)
    return float(slope), float(intercept)


def power_phase_start(data_sizes: Sequence[float], losses: Sequence[float], params: AtsParams) -> int:
    """Index of the smallest subset AtS keeps in the power phase (Algorithm 1 of Lin et al. 2024).

    With m points in increasing size, for p = k, k+1, ..., m-1: fit log L = a + s log D to the largest
    p points, r_i = log L_i - (a + s log D_i) over them, sigma = std(r) (population, ddof 0), and test
    the next smaller point t = m-p-1: stop when |log L_t - (a + s log D_t)| > delta * sigma, the power
    phase being the p points fitted. As in the authors' code, when no point stops the walk the last
    fit tested point 0 and the power phase is points 1..m-1 (point 0 accepted but not used), and
    with m <= k every point is used.

    Args:
        data_sizes: Subset sizes, strictly increasing, > 0.
        losses: Test loss after fine-tuning on each subset.
        params: ``k`` and ``delta``.

    Returns:
        The index of the first point of the power phase (0 when every point is in it).
    """
    x, y = _check_curve(data_sizes, losses, allow_zero=False)
    log_x, log_y = np.log(x), np.log(y)
    m = x.size
    if m <= params.k:
        return 0
    for p in range(params.k, m):
        slope, intercept = _fit_line(log_x[m - p :], log_y[m - p :])
        sigma = float(np.std(log_y[m - p :] - (intercept + slope * log_x[m - p :])))
        t = m - p - 1
        if abs(log_y[t] - (intercept + slope * log_x[t])) > params.delta * sigma:
            return m - p
    return 1


def predict_loss_ats(
    data_sizes: Sequence[float], losses: Sequence[float], target_size: float, params: AtsParams
) -> float:
    """The loss at ``target_size`` predicted by the line fitted to the power phase.

    L_hat = exp(a + s * log target_size), with (a, s) the least-squares fit of log L on log D over the
    points from :func:`power_phase_start` on.

    Args:
        data_sizes: Subset sizes, strictly increasing, > 0.
        losses: Test loss after fine-tuning on each subset.
        target_size: The data size to predict at (the full training set).
        params: ``k`` and ``delta``.

    Returns:
        The predicted test loss at ``target_size``.
    """
    start = power_phase_start(data_sizes, losses, params)
    log_x, log_y = np.log(np.asarray(data_sizes, dtype=np.float64)), np.log(np.asarray(losses, dtype=np.float64))
    slope, intercept = _fit_line(log_x[start:], log_y[start:])
    return float(np.exp(intercept + slope * np.log(target_size)))


def predict_losses_ats(
    curves: Mapping[str, Sequence[float]], data_sizes: Sequence[float], target_size: float, params: AtsParams
) -> dict[str, float]:
    """Each candidate's AtS-predicted loss at ``target_size`` from its losses at ``data_sizes``."""
    return {name: predict_loss_ats(data_sizes, losses, target_size, params) for name, losses in curves.items()}


def rank_by_predicted_loss(predicted: Mapping[str, float]) -> list[str]:
    """Candidates from the lowest predicted loss to the highest; exact ties keep the mapping's order."""
    return sorted(predicted, key=lambda name: predicted[name])


def nested_subset_sizes(num_examples: int, budget_examples: int, min_examples: int) -> list[int]:
    """The halving subset sizes AtS fine-tunes on, smallest first, within a budget of training examples.

    Sizes are N // 2^j for j >= 1 down to ``min_examples``; the largest kept, N // 2^k, is the biggest
    whose chain N // 2^k + N // 2^(k+1) + ... + (smallest >= min_examples) fits in ``budget_examples``
    (one epoch per subset; the paper's budget 1/r is the chain topped by N / r).

    Raises:
        ValueError: If fewer than 2 sizes fit (a line needs 2 points); the message gives the numbers.
    """
    sizes = []
    size = num_examples // 2
    while size >= min_examples and size > 0:
        sizes.append(size)
        size //= 2
    for top in range(len(sizes) - 1):
        if sum(sizes[top:]) <= budget_examples:
            return sizes[top:][::-1]
    raise ValueError(
        f"AtS needs >= 2 subset sizes between min_examples={min_examples} and N/2={num_examples // 2} "
        f"whose total is <= budget_examples={budget_examples}; halving sizes are {sizes}"
    )


def _law_from_theta(theta: FloatArray) -> RectifiedLaw:
    """theta = (log B, log D_l, beta, log E): the logs keep B, D_l and E positive during the search."""
    return RectifiedLaw(
        b=float(np.exp(theta[0])), d_l=float(np.exp(theta[1])), beta=float(theta[2]), e=float(np.exp(theta[3]))
    )


def _starts(x: FloatArray, y: FloatArray) -> list[FloatArray]:
    """Deterministic starting points: a few exponents x a few transition sizes, E at half the lowest loss."""
    e0 = 0.5 * float(y.min())
    positive = x[x > 0]
    out = []
    for beta in (0.3, 0.6, 1.0):
        for size in np.geomspace(positive.min(), positive.max(), 3):
            d_l = float(size**beta)
            b = (float(y.max()) - e0) * (d_l + float(positive.min() ** beta))
            out.append(np.array([np.log(b), np.log(d_l), beta, np.log(e0)]))
    return out


def fit_rectified_law(data_sizes: Sequence[float], losses: Sequence[float]) -> RectifiedLaw:
    """Fit L(D) = B / (D_l + D^beta) + E by least squares on log L (Lin et al. 2024).

    Minimizes sum_i (log L(D_i) - log loss_i)^2 over B, D_l, E > 0 and 0 < beta <= 5 with
    ``scipy.optimize.least_squares`` from nine deterministic starts, and keeps the best fit.

    Args:
        data_sizes: Subset sizes, strictly increasing, >= 0 (0 is the zero-shot loss).
        losses: Test loss after fine-tuning on each subset.

    Returns:
        The fitted law.

    Raises:
        ValueError: If the curve is malformed or has fewer than 4 points.
    """
    from scipy.optimize import least_squares

    x, y = _check_curve(data_sizes, losses, allow_zero=True)
    if x.size < 4:
        raise ValueError(f"fitting 4 parameters needs >= 4 points, got {x.size}")
    log_y = np.log(y)

    def residuals(theta: FloatArray) -> FloatArray:
        return np.log(_law_from_theta(theta).loss(x)) - log_y

    lower, upper = [-np.inf, -np.inf, 1e-6, -np.inf], [np.inf, np.inf, 5.0, np.inf]
    fits = [least_squares(residuals, s, bounds=(lower, upper), x_scale="jac", max_nfev=2000) for s in _starts(x, y)]
    best = min(fits, key=lambda fit: float(fit.cost))
    log.debug("rectified law: cost %.3g after %d starts", best.cost, len(fits))
    return _law_from_theta(best.x)
