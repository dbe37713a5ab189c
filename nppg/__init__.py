"""nppg: Vanilla Policy Gradient from scratch in NumPy, with manual backprop and closed-form scores.

The algorithm, in reading order: ``nn``, ``distributions``, ``policies``, ``advantages``, ``optim``,
``rollout``, ``algorithm`` (``vpg``). ``nppg.train`` runs the same ``vpg`` with the engine's faster
and safer pieces (``nppg/engine``); the command line uses it (``nppg/tools``).
"""
__version__ = "0.5.0"

from .advantages import WEIGHTS, batch_weights, discount_cumsum, gae, nstep_advantages, reward_to_go
from .algorithm import State, VPGConfig, make_policy, vpg
from .nn import MLP
from .optim import SGD, Adam
from .policies import CategoricalPolicy, GaussianPolicy, ValueFunction
from .engine import train
from .checks.gradcheck import check_grads, numerical_grad, rel_error
from .engine.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

__all__ = ["WEIGHTS", "batch_weights", "discount_cumsum", "gae", "nstep_advantages", "reward_to_go", "State",
           "VPGConfig", "make_policy", "vpg", "MLP", "SGD", "Adam", "CategoricalPolicy", "GaussianPolicy",
           "ValueFunction", "train", "check_grads", "numerical_grad", "rel_error", "CheckpointError",
           "load_checkpoint", "save_checkpoint"]
