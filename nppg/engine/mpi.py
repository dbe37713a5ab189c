"""Data-parallel VPG on MPI (the extra ``nppg[mpi]``): ``mpiexec -n N python -m mpi4py -m nppg train ...``.

N processes (ranks) run the same ``vpg`` loop. Rank r steps environment copies of its own and collects its
share D_r of the epoch's batch D_k; every quantity the loop takes over the whole batch is then combined
across the ranks, so that the ranks hold the same parameters after every step and the run is the
single-process algorithm on the union of their batches. For the policy gradient (8):

    (27)  g_k = 1/M sum_{t in D_k} grad log pi(a_t|s_t) Phi_t = sum_r (M_r / M) g_r,

with M and M_r the steps of D_k and D_r, and g_r = 1/M_r sum_{t in D_r} ... the gradient rank r computes
alone; the value loss (22) and its gradient are combined the same way. The pieces, each a drop-in for a plain one:

  DataParallelRollout  collects rank r's share of ``steps_per_epoch`` (the remainder goes to the low ranks),
                       with its copies seeded apart from every other rank's, into batches whose ``mean``
                       (the mean and std of Phi) is taken over every rank's steps
  DataParallelAdam     (27): one Allreduce of the weighted gradients, then the same Adam step on every rank
  DataParallelStats    the normalisers' RunningStats (24), updated with every rank's rows
  start, each_epoch    step 1 with these pieces and rank 0's parameters; after each epoch, the record made
                       global and every rank's state gathered to rank 0, which alone writes the run directory
  DataParallel         the communicator and its few collectives; ``together`` runs a step (setup, collection,
                       the finite checks) that fails on every rank when it fails on one, so none is left waiting

mpi4py is imported only by ``world()``, and only in a process that mpiexec started.
"""
import os
import sys
import time
from dataclasses import asdict, dataclass
from functools import partial

import numpy as np

from .. import algorithm
from ..algorithm import episode_stats
from ..normalize import RunningStats
from ..optim import Adam
from ..rollout import Batch
from .rollout import ROLLOUT_STATE, CheckedRollout

LAUNCH_SIZES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE")  # the job's size, as MPICH's Hydra and Open MPI's mpiexec say
LAUNCH_PREFIXES = ("PMI_", "PMIX_", "OMPI_", "MPI_LOCAL", "HYDRA_", "I_MPI_")
_world = []


def launched():
    """Whether this process is one of several that mpiexec started, or runs under ``python -m mpi4py``; decided
    without importing mpi4py. (Other launchers, such as srun, are seen through ``python -m mpi4py``.)"""
    return "mpi4py.MPI" in sys.modules or any(os.environ.get(v, "1").strip() not in ("", "0", "1")
                                              for v in LAUNCH_SIZES)


def world():
    """The ``DataParallel`` of this job when mpiexec started it with two or more ranks, else None."""
    if not _world:
        dp = None
        if launched():
            try:
                from mpi4py import MPI
            except ImportError:
                raise ValueError("this process was started by mpiexec, but mpi4py is not installed: "
                                 "pip install 'nppg[mpi]'") from None
            dp = DataParallel(MPI.COMM_WORLD) if MPI.COMM_WORLD.Get_size() > 1 else None
        _world.append(dp)
    return _world[0]


def on_all(dp):
    """``dp.together``: a step that fails on every rank if it fails on one; for one process (``dp`` None),
    just the call."""
    return (lambda f, *args, **kwargs: f(*args, **kwargs)) if dp is None else dp.together


def plain_environ():
    """This process's environment without mpiexec's variables: for a child process that is no rank."""
    return {k: v for k, v in os.environ.items() if not k.startswith(LAUNCH_PREFIXES)}


class PeerError(ValueError):
    """Another rank failed, so this one stops too (its message names the rank and its error)."""


class DataParallel:
    """The ranks of one job (an mpi4py communicator), and the batch sizes of the current epoch.

    ``agreed`` becomes True once every rank knows how the job ends (a failure seen by ``together``, a stop
    agreed by ``any``): the ranks can then end MPI together instead of aborting. ``quiet``: this rank's error
    is said by another (rank 0 says a failure of every rank, or of another rank, once)."""

    def __init__(self, comm):
        from mpi4py import MPI
        self.MPI, self.comm, self.rank, self.size = MPI, comm, comm.Get_rank(), comm.Get_size()
        self.local_size = comm.Split_type(MPI.COMM_TYPE_SHARED).Get_size()  # the ranks on this host
        self.n_local = self.n_total = None  # M_r and M, the steps of D_r and D_k, of the epoch being computed
        self.agreed = self.quiet = False

    def together(self, f, *args, undo=None, **kwargs):
        """``f(*args, **kwargs)`` on every rank, with no collective inside f. If it raises on any rank, it raises
        on every rank: its own error where it failed, a ``PeerError`` naming the first failed rank elsewhere
        (after ``undo(result)``, if given, where f succeeded). So every rank ends the same way (rank 0 cleans
        up what it made) and none waits for a failed one."""
        try:
            out, error = f(*args, **kwargs), None
        except Exception as e:
            out, error = None, e
        said = self.comm.allgather(None if error is None else f"{type(error).__name__}: {error}")
        failed = [r for r, e in enumerate(said) if e is not None]
        if not failed:
            return out
        self.agreed = True
        self.quiet = self.rank != 0 and (error is None or len(failed) == self.size)
        if error is not None:
            raise error
        if undo is not None:
            undo(out)
        raise PeerError(f"rank {failed[0]} of {self.size} failed: {said[failed[0]]}")

    def share(self, steps):
        """Rank r's part of ``steps``: steps // N, plus one for each of the first steps % N ranks."""
        return steps // self.size + (self.rank < steps % self.size)

    def sum(self, x):
        """The elementwise sum over the ranks of an array x (the same shape and dtype on every rank)."""
        x = np.array(x)  # a contiguous copy: the sum arrives in place
        self.comm.Allreduce(self.MPI.IN_PLACE, x, op=self.MPI.SUM)
        return x

    def gather_rows(self, x):
        """Every rank's rows of x (n_r, ...) in rank order, on every rank: float64 (sum_r n_r, ...)."""
        x = np.ascontiguousarray(x, dtype=np.float64)
        counts = self.comm.allgather(x.size)
        out = np.empty(sum(counts))
        self.comm.Allgatherv(x.ravel(), [out, counts])
        return out.reshape(-1, *x.shape[1:])

    def any(self, flag):
        """True on every rank when ``flag`` is true on any rank."""
        return bool(self.comm.allreduce(bool(flag), op=self.MPI.LOR))

    def wait_for_all(self, poll=0.2):
        """A barrier that sleeps between looks instead of keeping a core busy (MPICH's waits spin)."""
        done = self.comm.Ibarrier()
        while not done.Test():
            time.sleep(poll)

    def finish(self):
        """End MPI on every rank together, now (then an exit code that is not 0 aborts nothing)."""
        self.comm.Barrier()
        self.MPI.Finalize()

    def abort(self, code):
        """End every rank of the job now (a rank that failed alone would leave the others waiting). mpiexec
        passes each rank's output on through a pipe, and ends that too when it ends the job: the message
        just written gets a moment to go through first."""
        sys.stdout.flush()
        sys.stderr.flush()
        time.sleep(0.5)
        self.comm.Abort(code)


@dataclass
class DataParallelBatch(Batch):
    dp: DataParallel = None

    def mean(self, x):  # the mean over every rank's steps: sum_r sum_{t in D_r} x_t / M
        return self.dp.sum(np.sum(np.asarray(x, dtype=np.float64), axis=0)) / self.dp.n_total


class DataParallelRollout(CheckedRollout):
    """``CheckedRollout`` of rank r: its copies are seeded ``seed + r * num_envs + i``, so that the N x num_envs
    copies all differ (rank 0's are a single process's), and ``collect`` gathers only rank r's share."""

    def __init__(self, envs, seed=None, gamma=1.0, dp=None):
        self.dp, self.peers, self.episodes = dp, [], None
        super().__init__(envs, None if seed is None else seed + dp.rank * envs.num_envs, gamma)

    def collect(self, policy, steps, rng):
        batch = self.dp.together(super().collect, policy, self.dp.share(steps), rng)  # a NaN ends every rank
        self.dp.n_local = len(batch.rew)
        self.dp.n_total = int(self.dp.sum(np.array([self.dp.n_local]))[0])
        self.episodes = batch.ep_returns, batch.ep_lengths
        return DataParallelBatch(**vars(batch), dp=self.dp)


class DataParallelAdam(Adam):
    """(27) then (23): the ranks' gradients of their own batch means, weighted by M_r / M and summed
    with one Allreduce, are the gradient of the whole batch's mean; every rank takes the same Adam step."""

    def __init__(self, params, lr, dp):
        super().__init__(params, lr)
        self.dp = dp

    def average(self, grads):
        """(27) sum_r (M_r / M) g_r, every parameter's in one Allreduce."""
        keys = list(grads)
        flat = np.concatenate([np.ravel(grads[k]) for k in keys]) * (self.dp.n_local / self.dp.n_total)
        flat, ends = self.dp.sum(flat), np.cumsum([np.size(grads[k]) for k in keys])
        return {k: g.reshape(np.shape(grads[k])) for k, g in zip(keys, np.split(flat, ends[:-1]))}

    def step(self, grads):
        super().step(self.average(grads))


class DataParallelStats(RunningStats):
    """``RunningStats`` (24) whose ``update`` takes every rank's rows: the same statistics on every rank,
    equal to a single process's on the ranks' batches put together."""

    def __init__(self, shape, dp):
        super().__init__(shape)
        self.dp = dp

    def update(self, x):
        super().update(self.dp.gather_rows(x))


def check(cfg, dp, settings0):
    """Refuse a run whose ranks were given different settings (``settings0``: rank 0's), or whose batch gives
    a rank fewer steps than environment copies."""
    differ = sorted(k for k, v in asdict(cfg).items() if settings0.get(k) != v)
    if differ:
        raise ValueError(f"the ranks of one run must share its settings; rank {dp.rank} has other {', '.join(differ)} "
                         "than rank 0 (for independent runs on MPI ranks, use nppg sweep)")
    if cfg.steps_per_epoch < dp.size * cfg.num_envs:
        raise ValueError(f"steps_per_epoch ({cfg.steps_per_epoch}) split over {dp.size} ranks gives some fewer "
                         f"steps than num_envs ({cfg.num_envs}) copies: use fewer ranks or copies, or more steps")


def start(cfg, dp, check_config=None, **pieces):
    """Step 1 on rank r: the settings checked to be rank 0's (and by ``check_config``, if given),
    ``algorithm.start`` with the data-parallel pieces, theta_0 and phi_0 broadcast from rank 0, and rank r's own
    action sampling, ``default_rng([seed, r])`` (rank 0 keeps a single process's). A failure on any rank
    (a bad setting, an environment that cannot be made) fails every rank."""
    settings0 = dp.comm.bcast(asdict(cfg), root=0)

    def checked():
        if check_config is not None:
            check_config(cfg)
        check(cfg, dp, settings0)
    dp.together(checked)
    s = dp.together(algorithm.start, cfg, **pieces, Rollout=partial(DataParallelRollout, dp=dp),
                    undo=lambda s: s.rollout.envs.close())
    for p in (*s.policy.params.values(), *s.value_fn.params.values()):
        dp.comm.Bcast(p, root=0)
    s.pi_opt = DataParallelAdam(s.policy.params, cfg.pi_lr, dp)
    s.vf_opt = DataParallelAdam(s.value_fn.params, cfg.vf_lr, dp)
    if cfg.normalize_obs:
        s.obs_stats = s.policy.net.obs_stats = s.value_fn.net.obs_stats = DataParallelStats(s.policy.obs_dim, dp)
    if cfg.scale_rewards:
        s.ret_stats = DataParallelStats((), dp)
    if dp.rank:
        s.rng = np.random.default_rng([cfg.seed, dp.rank])
    return s


MEANS = ("loss_pi", "delta_loss_pi", "kl", "entropy", "loss_v", "delta_loss_v")  # the record's means over steps


def rank_state(s):
    """What a checkpoint needs of one rank beyond what all share: its environments' actions and episodes."""
    ro = s.rollout
    return {"actions": ro.last_actions, "vector_steps": ro.vector_steps, "rng_state": s.rng.bit_generator.state,
            **{k: getattr(ro, k) for k in ROLLOUT_STATE}}


def each_epoch(dp, record, s):
    """After ``vpg``'s epoch, on every rank: the record over the whole batch (the step count, the episodes
    that ended on any rank, the means over every step), and rank 0 given the other ranks' states."""
    s.env_steps += dp.n_total - dp.n_local          # the loop counted this rank's steps
    R, L = (dp.gather_rows(x) for x in s.rollout.episodes)
    means = dp.sum(np.array([record[k] for k in MEANS]) * (dp.n_local / dp.n_total))
    record.update(zip(MEANS, map(float, means)), **episode_stats(R, L.astype(np.int64)), env_steps=s.env_steps)
    peers = dp.comm.gather(rank_state(s), root=0)
    s.rollout.peers = peers[1:] if dp.rank == 0 else []
