"""The exercises' checks, one module per module of the algorithm layer, in the order of that module: ``nn.py``
holds backprop's, ``advantages.py`` those of reward_to_go, gae, nstep and batch_weights, ... Each check is a
function of the package being graded, registered with ``@check(exercise, kind, what)`` (``common.py``);
``together.py`` runs the student's whole package once, after the ladder."""
from ..ladder import GRADED
from . import nn, distributions, advantages, policies, optim, normalize, rollout, algorithm, together  # noqa: F401  (register)
from .common import CHECKS, Fail, NotYet

assert sorted(CHECKS) == sorted(e.name for e in GRADED), "every exercise of the ladder has its checks, and no more"

__all__ = ["CHECKS", "Fail", "NotYet"]
