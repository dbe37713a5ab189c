"""nppg: Vanilla Policy Gradient from scratch in NumPy, with manual backprop and closed-form scores.

The algorithm, in reading order: ``nn``, ``distributions``, ``policies``, ``advantages``, ``optim``,
``rollout``, ``algorithm`` (``vpg``). ``nppg.train`` runs the same ``vpg`` with the engine's faster
and safer pieces (``nppg/engine``) and, if asked, the command line's run directory (``nppg/tools/api.py``);
``nppg.save`` and ``nppg.load`` write and read a trained state. ``nppg.vpg`` is the algorithm's ``vpg`` with
a check of its keywords, on one BLAS thread (``nppg/engine/plain.py``).
"""
__version__ = "0.6.0"

from .advantages import WEIGHTS, batch_weights, discount_cumsum, gae, nstep_advantages, reward_to_go
from .algorithm import State, VPGConfig, make_policy, vpg  # as the course's workspaces export it (course/workspace.py)
from .nn import MLP
from .optim import SGD, Adam
from .policies import CategoricalPolicy, GaussianPolicy, ValueFunction
from .tools.api import load, save, train
from .engine.plain import vpg  # noqa: F811  nppg's: the algorithm's vpg with its keywords checked, on one BLAS thread
from .checks.gradcheck import check_grads, numerical_grad, rel_error
from .engine.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

__all__ = ["WEIGHTS", "batch_weights", "discount_cumsum", "gae", "nstep_advantages", "reward_to_go", "State",
           "VPGConfig", "make_policy", "vpg", "MLP", "SGD", "Adam", "CategoricalPolicy", "GaussianPolicy",
           "ValueFunction", "train", "save", "load", "check_grads", "numerical_grad", "rel_error", "CheckpointError",
           "load_checkpoint", "save_checkpoint"]
