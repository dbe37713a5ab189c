"""Bad input fails at once, with a ValueError that names the argument and shows what it got.

Each ``match`` pins both halves of the message: the argument's name and the offending shape or value.
"""
import numpy as np
import pytest

import nppg
from nppg import numerical_grad, rel_error
from nppg.engine import FastValueFunction

N = 5


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def categorical(rng):
    return nppg.CategoricalPolicy(4, 3, (6,), rng=rng)


@pytest.fixture
def gaussian(rng):
    return nppg.GaussianPolicy(4, 2, (6,), rng=rng)


@pytest.fixture
def obs(rng):
    return rng.standard_normal((N, 4))


# ---- policies: observations ------------------------------------------------------------------

@pytest.mark.parametrize("bad_obs, shape", [(np.zeros((N, 3)), r"\(5, 3\)"), (np.zeros(4), r"\(4,\)"),
                                            (np.zeros((N, 4, 1)), r"\(5, 4, 1\)")])
def test_observation_of_the_wrong_width_is_rejected(categorical, gaussian, bad_obs, shape):
    vf, fast = nppg.ValueFunction(4, (6,), rng=np.random.default_rng(1)), FastValueFunction(4, (6,))
    calls = [
        lambda: categorical.logits(bad_obs), lambda: categorical.sample(bad_obs, np.random.default_rng(0)),
        lambda: categorical.log_prob(bad_obs, np.zeros(len(bad_obs), dtype=int)), lambda: categorical.entropy(bad_obs),
        lambda: categorical.grad_log_prob(bad_obs, np.zeros(len(bad_obs), dtype=int), np.ones(len(bad_obs))),
        lambda: gaussian.mean(bad_obs), lambda: gaussian.sample(bad_obs, np.random.default_rng(0)),
        lambda: gaussian.log_prob(bad_obs, np.zeros((len(bad_obs), 2))),
        lambda: gaussian.grad_log_prob(bad_obs, np.zeros((len(bad_obs), 2)), np.ones(len(bad_obs))),
        lambda: vf.predict(bad_obs), lambda: vf.grad_mse(bad_obs, np.zeros(len(bad_obs))),
        lambda: fast.predict(bad_obs), lambda: fast.grad_mse(bad_obs, np.zeros(len(bad_obs))),
    ]
    for call in calls:
        with pytest.raises(ValueError, match=r"input must have shape \(N, 4\); got shape " + shape):
            call()


# ---- actions ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, act, message", [
    ("categorical", np.zeros(4, dtype=int), r"act must have one row per row of obs \(5\); got shape \(4,\)"),
    ("categorical", np.zeros(6, dtype=int), r"act must have one row per row of obs \(5\); got shape \(6,\)"),
    ("categorical", np.array(1), r"act must have one row per row of obs \(5\); got shape \(\)"),
    ("categorical", np.array([0, 1, -1, 2, 0]), r"act must lie in \[0, 3\); got values from -1 to 2"),
    ("categorical", np.array([0, 1, 3, 2, 0]), r"act must lie in \[0, 3\); got values from 0 to 3"),
    ("categorical", np.array([0.0, 1.0, 2.0, 1.0, 0.0]),
     r"act must be a 1-d array of integer actions; got shape \(5,\), dtype float64"),
    ("categorical", np.zeros((N, 1), dtype=int), r"act must be a 1-d array of integer actions; got shape \(5, 1\)"),
    ("gaussian", np.zeros((N, 3)), r"act must have shape \(5, 2\); got shape \(5, 3\)"),
    ("gaussian", np.zeros(N), r"act must have shape \(5, 2\); got shape \(5,\)"),
    ("gaussian", np.zeros((N - 1, 2)), r"act must have one row per row of obs \(5\); got shape \(4, 2\)"),
])
def test_policies_reject_bad_actions(request, obs, kind, act, message):
    policy = request.getfixturevalue(kind)  # the categorical or gaussian fixture
    with pytest.raises(ValueError, match=message):
        policy.log_prob(obs, act)
    with pytest.raises(ValueError, match=message):
        policy.grad_log_prob(obs, act, np.ones(N))


# ---- the weights Phi_t ------------------------------------------------------------------------

@pytest.mark.parametrize("Phi, message", [
    (np.ones(3), r"Phi must have one row per row of obs \(5\); got shape \(3,\)"),
    (np.ones(N + 1), r"Phi must have one row per row of obs \(5\); got shape \(6,\)"),
    (np.ones((N, 1)), r"Phi must be 1-d, one per row of obs \(5\); got shape \(5, 1\)"),
])
def test_policies_reject_Phi_of_the_wrong_shape(categorical, gaussian, obs, Phi, message):
    with pytest.raises(ValueError, match=message):
        categorical.grad_log_prob(obs, np.zeros(N, dtype=int), Phi)
    with pytest.raises(ValueError, match=message):
        gaussian.grad_log_prob(obs, np.zeros((N, 2)), Phi)


# ---- value function --------------------------------------------------------------------------

@pytest.mark.parametrize("R_hat, message", [
    (np.zeros(N - 1), r"R_hat must have one row per row of obs \(5\); got shape \(4,\)"),
    (np.zeros((N, 1)), r"R_hat must be 1-d, one per row of obs \(5\); got shape \(5, 1\)"),
])
def test_value_function_rejects_targets_of_the_wrong_shape(obs, R_hat, message):
    for vf in (nppg.ValueFunction(4, (6,), rng=np.random.default_rng(1)), FastValueFunction(4, (6,))):
        with pytest.raises(ValueError, match=message):
            vf.grad_mse(obs, R_hat)


def test_value_loss_of_no_rows_is_refused_not_nan():
    """(22) is a mean: over zero rows it has no value, and both forms say so."""
    vf, fast = nppg.ValueFunction(4, (6,), rng=np.random.default_rng(1)), FastValueFunction(4, (6,))
    for loss in (vf.grad_mse, fast.grad_mse):
        with pytest.raises(ValueError, match=r"obs must have at least one row"):
            loss(np.zeros((0, 4)), np.zeros(0))


# ---- networks --------------------------------------------------------------------------------

@pytest.mark.parametrize("sizes, shown", [((3,), r"\(3,\)"), ((), r"\(\)"), ((3, 0, 2), r"\(3, 0, 2\)"),
                                          ((3, -1), r"\(3, -1\)"), ((3, 2.5, 1), r"\(3, 2.5, 1\)")])
def test_mlp_rejects_bad_sizes(sizes, shown):
    with pytest.raises(ValueError, match=r"sizes must be two or more positive integers .*; got " + shown):
        nppg.MLP(sizes)


def test_policies_reject_bad_sizes_through_their_network():
    with pytest.raises(ValueError, match=r"sizes must be .*; got \(4, 0, 3\)"):
        nppg.CategoricalPolicy(4, 3, hidden_sizes=(0,))
    with pytest.raises(ValueError, match=r"sizes must be .*; got \(4, 6, 0\)"):
        nppg.GaussianPolicy(4, 0, hidden_sizes=(6,))


def test_mlp_rejects_an_unknown_activation():
    with pytest.raises(ValueError, match=r"activation must be one of \['relu', 'tanh'\]; got 'sigmoid'"):
        nppg.MLP((3, 4, 2), activation="sigmoid")
    with pytest.raises(ValueError, match=r"activation must be one of .*; got 'Tanh'"):
        nppg.CategoricalPolicy(4, 3, activation="Tanh")


def test_mlp_rejects_input_of_the_wrong_width():
    with pytest.raises(ValueError, match=r"input must have shape \(N, 3\); got shape \(5, 2\)"):
        nppg.MLP((3, 4, 2)).forward(np.zeros((N, 2)))


# ---- optimizers ------------------------------------------------------------------------------

@pytest.fixture(params=["SGD", "Adam"])
def optimizer(request):
    params = {"W0": np.ones((3, 4)), "b0": np.ones(4)}
    return getattr(nppg, request.param)(params, lr=0.1)


@pytest.mark.parametrize("grads, message", [
    ([np.zeros((3, 4)), np.zeros(4)], r"grads must be a dict keyed like params; got list"),
    (np.zeros((3, 4)), r"grads must be a dict keyed like params; got ndarray"),
    ({"W0": np.zeros((3, 4)), "W9": np.zeros(4)},
     r"grads has key 'W9' that params does not have \(params has \['W0', 'b0'\]\)"),
    ({"W0": np.zeros((4, 3))}, r"grads\['W0'\] must have shape \(3, 4\); got shape \(4, 3\)"),
    ({"b0": np.zeros((4, 1))}, r"grads\['b0'\] must have shape \(4,\); got shape \(4, 1\)"),
])
def test_optimizers_reject_bad_grads_and_change_nothing(optimizer, grads, message):
    with pytest.raises(ValueError, match=message):
        optimizer.step(grads)
    assert all(np.all(p == 1.0) for p in optimizer.params.values())
    assert getattr(optimizer, "t", 0) == 0


@pytest.mark.parametrize("name", ["SGD", "Adam"])
@pytest.mark.parametrize("lr, shown", [(0.0, "0.0"), (-1e-3, "-0.001"), (float("nan"), "nan")])
def test_optimizers_reject_a_non_positive_learning_rate(name, lr, shown):
    with pytest.raises(ValueError, match=rf"lr must be positive; got {shown}"):
        getattr(nppg, name)({"x": np.zeros(2)}, lr=lr)


@pytest.mark.parametrize("beta1, beta2, shown",
                         [(1.0, 0.999, "1.0, 0.999"), (0.9, 1.0, "0.9, 1.0"), (-0.1, 0.999, "-0.1, 0.999")])
def test_adam_rejects_betas_outside_0_1(beta1, beta2, shown):
    with pytest.raises(ValueError, match=rf"beta1 and beta2 must lie in \[0, 1\); got {shown}"):
        nppg.Adam({"x": np.zeros(2)}, beta1=beta1, beta2=beta2)


# ---- advantages and the gradient checker -----------------------------------------------------

def test_batch_weights_rejects_an_unknown_weights_name():
    names = r"\['return', 'reward-to-go', 'baseline', 'nstep', 'gae'\]"
    with pytest.raises(ValueError, match=rf"weights must be one of {names}; got 'advantage'"):
        nppg.batch_weights(np.zeros(3), np.zeros(3), [(0, 3, 0.0)], "advantage", 0.99, 0.95)


def test_gradient_checker_rejects_inputs_it_cannot_check_honestly():
    with pytest.raises(ValueError, match=r"x must be float64 .*; got float32"):
        numerical_grad(lambda: 0.0, np.zeros(3, dtype=np.float32))
    with pytest.raises(ValueError, match=r"x must be C-contiguous"):
        numerical_grad(lambda: 0.0, np.zeros((3, 4)).T)
    with pytest.raises(ValueError, match=r"shapes differ: \(3,\) and \(1, 3\)"):
        rel_error(np.zeros(3), np.zeros((1, 3)))
