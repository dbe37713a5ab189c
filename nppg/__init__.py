"""nppg: Vanilla Policy Gradient from scratch in NumPy, with manual backprop and closed-form scores."""
__version__ = "0.1.0"

from .advantages import WEIGHTS, batch_weights, discount_cumsum, gae, reward_to_go
from .gradcheck import check_grads, numerical_grad, rel_error
from .nn import MLP
from .optim import SGD, Adam
from .policies import CategoricalPolicy, GaussianPolicy, ValueFunction
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .vpg import Result, VPGConfig, vpg
