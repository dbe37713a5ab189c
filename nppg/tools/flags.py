"""The flags of ``nppg train``, which ``nppg sweep`` passes on to each of its runs: every setting by name,
the presets, and which settings a command line asks for; and ``Parser``, the argument parser of every command."""
import argparse
import difflib
from dataclasses import fields

from ..advantages import WEIGHTS
from ..algorithm import VPGConfig
from ..engine.config import ENGINE_SETTINGS, VF_DTYPES, VECTORIZATIONS, EngineConfig
from ..nn import ACTIVATIONS

D, E = VPGConfig(), EngineConfig()
SETTINGS = [f.name for f in fields(VPGConfig)] + list(ENGINE_SETTINGS)  # every setting train takes, by name

# --preset NAME: settings chosen by measurement (docs/results.md says how); flags given beside it win
PRESETS = {
    "mujoco": dict(steps_per_epoch=4000, normalize_obs=True, scale_rewards=True, lam=0.95, pi_lr=3e-3,
                   log_std_init=-1.5, lr_decay=True),
}


class Parser(argparse.ArgumentParser):
    """An ArgumentParser that takes every flag only as written, never abbreviated (``--lr`` is not ``--lr-decay``,
    nor ``--steps`` ``--steps-per-epoch``), and answers a flag it does not know with the usage of the (sub)command
    it was given to and the flags nearest to it. Its subcommands' parsers are Parsers too."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **{**kwargs, "allow_abbrev": False})

    def parse_args(self, args=None, namespace=None):
        args, unknown = self.parse_known_args(args, namespace)
        if unknown:
            parser = chosen(self, args)
            parser.error(f"unrecognized arguments: {' '.join(unknown)}{did_you_mean(parser, unknown)}")
        return args


def chosen(parser, args):
    """The parser of the subcommand ``args`` were parsed for (``nppg exercise check``'s, say), or ``parser``."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and getattr(args, action.dest, None) in action.choices:
            return chosen(action.choices[getattr(args, action.dest)], args)
    return parser


def did_you_mean(parser, unknown):
    """"; did you mean --epochs?": the flags of ``parser`` that the first flag in ``unknown`` begins, else the one
    nearest to it in spelling; "" if none is near."""
    typed = next((u.split("=")[0] for u in unknown if u.startswith("--")), None)
    if typed is None:
        return ""
    flags = [f for action in parser._actions for f in action.option_strings if f.startswith("--")]
    near = [f for f in flags if f.startswith(typed)] or \
        ["--" + f for f in difflib.get_close_matches(typed[2:], [f[2:] for f in flags], 1)]  # spelling, not dashes
    return f"; did you mean {' or '.join(near)}?" if near else ""


# three settings under two names: train's, and Spinning Up's, which the examples keep; each takes both
ALIASES = {"--env": "--env-name", "--pi-lr": "--lr", "--steps-per-epoch": "--batch-size"}


def add_train_args(p):
    p.add_argument("--env", ALIASES["--env"], default=D.env,
                   help="gymnasium id, or module:EnvName-v0 (default: %(default)s)")
    p.add_argument("--seed", type=int, default=D.seed,
                   help="seeds the networks, the environments and the sampling (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=None, help=f"number of policy updates (default: {D.epochs}; "
                   "with --resume: the saved run's, or more to extend it)")
    p.add_argument("--steps-per-epoch", ALIASES["--steps-per-epoch"], type=int, default=D.steps_per_epoch, metavar="M",
                   help="environment steps collected for each policy update, over all copies (default: %(default)s)")
    p.add_argument("--num-envs", type=int, default=D.num_envs,
                   help="environment copies stepped together (default: %(default)s)")
    p.add_argument("--weights", default=D.weights, choices=WEIGHTS,
                   help="Phi_t: R(tau), reward-to-go, reward-to-go minus V(s_t), the n-step advantage (see --n-step), "
                        "or GAE (default: %(default)s)")
    p.add_argument("--gamma", type=float, default=D.gamma, help="discount, in (0, 1] (default: %(default)s)")
    p.add_argument("--lam", type=float, default=D.lam, help="GAE lambda, in [0, 1] (default: %(default)s)")
    p.add_argument("--n-step", type=int, default=D.n_step,
                   help="n of --weights nstep: rewards before V(s_{t+n}) (default: %(default)s)")
    p.add_argument("--pi-lr", ALIASES["--pi-lr"], type=float, default=D.pi_lr,
                   help="policy Adam step size (default: %(default)s)")
    p.add_argument("--vf-lr", type=float, default=D.vf_lr, help="value-function Adam step size (default: %(default)s)")
    p.add_argument("--train-v-iters", type=int, default=D.train_v_iters,
                   help="value Adam steps per epoch (default: %(default)s)")
    p.add_argument("--hidden", type=int, nargs="+", default=list(D.hidden), metavar="WIDTH",
                   help=f"hidden widths of both networks (default: {' '.join(map(str, D.hidden))})")
    p.add_argument("--activation", default=D.activation, choices=sorted(ACTIVATIONS), help="(default: %(default)s)")
    p.add_argument("--no-normalize-adv", dest="normalize_adv", action="store_false",
                   help="use Phi_t as computed, without shifting and scaling it over the batch")
    p.add_argument("--log-std-init", type=float, default=D.log_std_init,
                   help="Gaussian policy's initial log sigma (default: %(default)s)")
    p.add_argument("--lr-decay", action="store_true",
                   help="both Adam step sizes fall linearly over the run, alpha_k = alpha_0 (1 - k / epochs) (28)")
    p.add_argument("--no-lr-decay", dest="lr_decay", action="store_false", help="(to undo a --preset's)")
    p.add_argument("--normalize-obs", action="store_true",
                   help="observations enter both networks normalised by running statistics (25)")
    p.add_argument("--no-normalize-obs", dest="normalize_obs", action="store_false", help="(to undo a --preset's)")
    p.add_argument("--scale-rewards", action="store_true",
                   help="rewards divided by the running std of the discounted return (26)")
    p.add_argument("--no-scale-rewards", dest="scale_rewards", action="store_false", help="(to undo a --preset's)")
    p.add_argument("--preset", choices=sorted(PRESETS), default=None,
                   help="a set of settings; flags given beside it win. " + "; ".join(
                       f"{name}: " + " ".join(f"--{k.replace('_', '-')}" + ("" if v is True else f" {v}")
                                              for k, v in preset.items()) for name, preset in PRESETS.items()))
    p.add_argument("--vf-dtype", default=E.vf_dtype, choices=VF_DTYPES,
                   help="value network precision: float32 fits it about twice as fast, float64 is the plain "
                        "ValueFunction exactly; the policy is float64 either way (default: %(default)s)")
    p.add_argument("--vectorization", default=None, choices=VECTORIZATIONS[1:],
                   help="gymnasium vectorization (default: the environment's own vector version, else sync)")
    p.add_argument("--threads", type=int, default=E.threads,
                   help="threads for the value fit, each product on one BLAS thread; results are the same with "
                        "any number >= 1 (default: %(default)s, under mpiexec 1 per rank; 0: one, and NumPy's BLAS "
                        "setting left alone)")
    p.add_argument("--eval-every", type=int, default=E.eval_every, metavar="STEPS",
                   help="every STEPS environment steps, evaluate the policy on --eval-episodes fresh episodes of its own "
                        "environment copies, with sampled and with mean actions; logged to progress.csv as eval_* "
                        "(training is the same to the bit; default: 0, never)")
    p.add_argument("--eval-episodes", type=int, default=E.eval_episodes, help="(default: %(default)s of each kind)")
    p.add_argument("--out", default=None, help="run directory (default: runs/<env>-<weights>-s<seed>-<time>)")
    p.add_argument("--save-every", type=int, default=10,
                   help="also write policy.npz and state.npz every N epochs (default: %(default)s; 0: only at the end)")
    p.add_argument("--quiet", action="store_true", help="no per-epoch console line")
    p.add_argument("--resume", metavar="RUN_DIR", default=None,
                   help="continue an interrupted run from its state.npz, or start again from its beginning a run "
                        "stopped before its first save (its own settings; only --epochs, --threads, --eval-every and "
                        "--eval-episodes may change)")


def given_settings(argv):
    """The settings asked for on the command line ``argv``: a --preset's, then the flags given (which win),
    not those left at their defaults."""
    not_given = object()
    p = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    add_train_args(p)
    p.set_defaults(**dict.fromkeys(SETTINGS, not_given))
    parsed = vars(p.parse_known_args(argv)[0])
    return {**PRESETS.get(parsed["preset"], {}), **{k: parsed[k] for k in SETTINGS if parsed[k] is not not_given}}
