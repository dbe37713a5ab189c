"""What the property tests share: the gradient tolerance, hypothesis strategies and a few helpers.

    from strategies import TOL, assert_grads_match, rows, seeds
"""
import numpy as np
from hypothesis import strategies as st

import nppg
from nppg.nn import ACTIVATIONS

TOL = 1e-6  # relative error below which an analytic and a numerical gradient agree
# Gradients are checked at numerical_grad's default eps = 1e-3; at 1e-4, roundoff alone reached TOL on
# the gradient entries near 1e-6 that random products of small numbers produce (~1 example in 500).

seeds = st.integers(0, 2**32 - 1)
rows = st.integers(1, 6)        # N: states or samples in a batch
dims = st.integers(1, 6)        # widths: of inputs, observations, layers
n_actions = st.integers(2, 6)   # K: a categorical policy's actions
act_dims = st.integers(1, 4)    # a Gaussian policy's action dimensions
hidden_sizes = st.lists(st.integers(1, 6), min_size=0, max_size=3).map(tuple)
activations = st.sampled_from(["tanh", "relu"])


def redraw_params(params, rng):
    """Moderate-scale parameters for gradient checks: W ~ N(0, 1) / sqrt(fan_in), b ~ 0.1 N(0, 1),
    log_std ~ U(-1, 0.5).

    The default initialisation (zero biases, output gain 0.01 in the policies) leaves some
    gradients tiny, down towards the finite differences' roundoff; unit-scale W with small
    log_std makes |log pi| reach thousands, and the roundoff grows with |f|.
    """
    for k, p in params.items():
        if k.startswith("W"):
            p[...] = rng.standard_normal(p.shape) / np.sqrt(p.shape[0])
        elif k.startswith("b"):
            p[...] = 0.1 * rng.standard_normal(p.shape)
        else:
            assert k == "log_std", k
            p[...] = rng.uniform(-1.0, 0.5, p.shape)


def away_from_kink(net, x, margin=1e-2):
    """True when no ReLU input lies within ``margin`` of 0: finite differences move a parameter
    by up to 2 eps, and a step across the kink would measure a derivative that does not exist."""
    if net.activation != "relu":
        return True
    h = x
    for i in range(net.n_layers - 1):
        pre = h @ net.params[f"W{i}"] + net.params[f"b{i}"]
        if np.abs(pre).min() <= margin:
            return False
        h = ACTIVATIONS["relu"][0](pre)[0]
    return True


def assert_grads_match(f, params, grads):
    """grads has exactly params' keys and shapes, and each agrees with finite differences of f."""
    assert {k: g.shape for k, g in grads.items()} == {k: p.shape for k, p in params.items()}
    errors = nppg.check_grads(f, params, grads)
    assert max(errors.values()) < TOL, errors
