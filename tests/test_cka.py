"""Linear CKA: 1 on identical features, invariant to rotations and isotropic scaling, < 1 otherwise."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import ortho_group

from sunprep.train.analyze import linear_cka


def _features(seed: int, n: int = 200, p: int = 12) -> np.ndarray:
    g = np.random.default_rng(seed)
    return g.normal(size=(n, p)) @ g.normal(size=(p, p)) + g.normal(size=p)  # correlated, off-centre


def _gram_cka(x: np.ndarray, y: np.ndarray) -> float:
    """The HSIC form on centred linear Gram matrices: the slow, obvious reference."""
    h = np.eye(len(x)) - 1 / len(x)
    k, l_ = h @ x @ x.T @ h, h @ y @ y.T @ h
    return float((k * l_).sum() / np.sqrt((k * k).sum() * (l_ * l_).sum()))


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), scale=st.floats(1e-3, 1e3))
def test_invariant_to_orthogonal_transform_and_isotropic_scaling(seed: int, scale: float) -> None:
    x = _features(seed)
    q = ortho_group.rvs(x.shape[1], random_state=seed % 2**32)
    assert linear_cka(x, x) == pytest.approx(1.0, abs=1e-9)
    assert linear_cka(x, scale * x @ q) == pytest.approx(1.0, abs=1e-9)
    y = _features(seed + 1)
    assert linear_cka(x, scale * y @ q) == pytest.approx(linear_cka(x, y), abs=1e-9)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_equals_the_gram_form_and_stays_below_one_for_unrelated_features(seed: int) -> None:
    x, y = _features(seed), _features(seed + 7)[:, :5]
    assert linear_cka(x, y) == pytest.approx(_gram_cka(x, y), abs=1e-9)
    assert linear_cka(x, y) < 0.3  # independent features, n = 200 >> p


def test_not_invariant_to_anisotropic_scaling() -> None:
    """A check that the test above can fail: stretching one axis changes CKA."""
    x = _features(3)
    assert linear_cka(x, x * np.r_[100.0, np.ones(11)]) < 0.99


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="same samples"):
        linear_cka(np.zeros((5, 2)), np.zeros((6, 2)))
