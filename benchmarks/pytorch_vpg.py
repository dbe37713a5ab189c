"""The same epoch in PyTorch: a Vanilla Policy Gradient written in the style of OpenAI Spinning Up's
PyTorch ``vpg.py`` (an actor-critic module, a GAE-lambda buffer, one policy step and ``train_v_iters``
value steps per epoch), timed epoch by epoch, to set beside ``nppg bench``'s "epoch s" column.

torch is imported only here; nppg and its tests never import it. Run it with a Python that has torch
(and numpy, gymnasium), not nppg's own environment:

    python3 -m venv /tmp/torchvenv && /tmp/torchvenv/bin/pip install torch==2.13.0 numpy gymnasium   # a CPU build
    /tmp/torchvenv/bin/python benchmarks/pytorch_vpg.py --num-envs 8            # torch's own thread count
    /tmp/torchvenv/bin/python benchmarks/pytorch_vpg.py --num-envs 8 --threads 1
    /tmp/torchvenv/bin/python benchmarks/pytorch_vpg.py --num-envs 1            # one gym.make env, as Spinning Up

With ``--num-envs`` > 1 the copies are stepped through gymnasium's vector API (``gym.make_vec``, as nppg
does) and one forward pass under ``torch.no_grad`` samples the actions of all copies at once. With 1 the
loop is Spinning Up's own: a plain ``gym.make`` environment, one forward pass per step, exactly
``steps_per_epoch`` steps, and a reset at the end of every epoch. Settings are nppg's defaults: (64, 64)
tanh networks, gamma 0.99, lambda 0.97, pi_lr 1e-2 (Spinning Up's default is 3e-4; it does not change the
time), vf_lr 1e-3, 80 value steps, advantages normalised. The arithmetic is float32, as in Spinning Up.

Prints, per setting, the median epoch time of epochs 2..N (the first holds warm-up costs), measured with
``time.perf_counter`` around the whole epoch (rollout and update); ``--verbose`` adds each epoch's parts.
"""
import argparse
import statistics
import sys
import time

import gymnasium as gym
import numpy as np
import torch
import torch.nn as nn
from torch.distributions import Categorical

TORCH_THREADS = torch.get_num_threads()  # torch's own count, before any --threads


# ---- the actor-critic (Spinning Up's core.py, categorical actions only) -----------------------

def mlp(sizes, activation=nn.Tanh):
    """Linear layers with ``activation`` between them, none after the last."""
    layers = []
    for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(d_in, d_out))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


class CategoricalActor(nn.Module):
    def __init__(self, obs_dim, n_actions, hidden, activation):
        super().__init__()
        self.logits_net = mlp([obs_dim, *hidden, n_actions], activation)

    def distribution(self, obs):
        return Categorical(logits=self.logits_net(obs))

    def forward(self, obs, act=None):
        """pi(.|s), and log pi(a|s) when actions are given."""
        pi = self.distribution(obs)
        return pi, (pi.log_prob(act) if act is not None else None)


class Critic(nn.Module):
    def __init__(self, obs_dim, hidden, activation):
        super().__init__()
        self.v_net = mlp([obs_dim, *hidden, 1], activation)

    def forward(self, obs):
        return self.v_net(obs).squeeze(-1)  # (batch,)


class ActorCritic(nn.Module):
    def __init__(self, obs_space, act_space, hidden=(64, 64), activation=nn.Tanh):
        super().__init__()
        if not isinstance(act_space, gym.spaces.Discrete):
            raise ValueError(f"this benchmark has only the categorical policy; got {act_space}")
        obs_dim = int(np.prod(obs_space.shape))
        self.pi = CategoricalActor(obs_dim, int(act_space.n), hidden, activation)
        self.v = Critic(obs_dim, hidden, activation)

    def step(self, obs):
        """Sample a ~ pi(.|s) and return a, V(s), log pi(a|s) as NumPy arrays (no graph is built)."""
        with torch.no_grad():
            pi = self.pi.distribution(obs)
            a = pi.sample()
            return a.numpy(), self.v(obs).numpy(), pi.log_prob(a).numpy()


# ---- the buffers --------------------------------------------------------------------------

def discount_cumsum(x, discount):
    """y[t] = x[t] + discount * y[t+1] (Spinning Up calls scipy.signal.lfilter; scipy is not needed here)."""
    y = np.empty_like(x)
    running = 0.0
    for t in range(len(x) - 1, -1, -1):
        running = x[t] + discount * running
        y[t] = running
    return y


def gae_and_targets(rew, val, last_val, gamma, lam):
    """GAE-lambda advantages and rewards-to-go of one path, closed by last_val (0 at a termination)."""
    rews, vals = np.append(rew, last_val), np.append(val, last_val)
    deltas = rews[:-1] + gamma * vals[1:] - vals[:-1]
    return discount_cumsum(deltas, gamma * lam), discount_cumsum(rews, gamma)[:-1]


def as_tensors(obs, act, adv, ret, logp):
    adv = (adv - adv.mean()) / adv.std()  # the normalisation trick (Spinning Up: no epsilon either)
    data = dict(obs=obs, act=act, adv=adv, ret=ret, logp=logp)
    return {k: torch.as_tensor(v, dtype=torch.int64 if k == "act" else torch.float32) for k, v in data.items()}


class VPGBuffer:
    """Spinning Up's buffer: exactly ``size`` steps of one environment, paths one after another."""

    def __init__(self, obs_dim, size, gamma, lam):
        self.obs = np.zeros((size, obs_dim), np.float32)
        self.act = np.zeros(size, np.int64)
        self.rew, self.val, self.logp, self.adv, self.ret = (np.zeros(size, np.float32) for _ in range(5))
        self.gamma, self.lam, self.ptr, self.path_start, self.size = gamma, lam, 0, 0, size

    def store(self, obs, act, rew, val, logp):
        self.obs[self.ptr], self.act[self.ptr], self.rew[self.ptr] = obs, act, rew
        self.val[self.ptr], self.logp[self.ptr] = val, logp
        self.ptr += 1

    def finish_path(self, last_val=0.0):
        s = slice(self.path_start, self.ptr)
        self.adv[s], self.ret[s] = gae_and_targets(self.rew[s], self.val[s], last_val, self.gamma, self.lam)
        self.path_start = self.ptr

    def get(self):
        assert self.ptr == self.size
        self.ptr, self.path_start = 0, 0
        return as_tensors(self.obs, self.act, self.adv, self.ret, self.logp)


class VecVPGBuffer:
    """The same buffer with one column per environment copy; a row is one vector step.

    gymnasium's vector environments reset a copy on the step *after* its episode ended (autoreset mode
    NEXT_STEP): that row of the copy is no transition (``valid`` False) and its next path starts after it.
    Unfinished paths go on into the next epoch, as in nppg.
    """

    def __init__(self, n, obs_dim, steps, gamma, lam):
        rows = 2 * -(-steps // n) + 1  # enough even if every other row of a copy were a reset row
        self.obs = np.zeros((rows, n, obs_dim), np.float32)
        self.act = np.zeros((rows, n), np.int64)
        self.rew, self.val, self.logp, self.adv, self.ret = (np.zeros((rows, n), np.float32) for _ in range(5))
        self.valid = np.zeros((rows, n), bool)
        self.gamma, self.lam, self.row = gamma, lam, 0
        self.path_start = np.zeros(n, np.int64)

    def store(self, obs, act, rew, val, logp, valid):
        r = self.row
        self.obs[r], self.act[r], self.rew[r], self.val[r], self.logp[r], self.valid[r] = obs, act, rew, val, logp, valid
        self.row += 1

    def finish_path(self, i, last_val):
        """Close copy i's path at the current row; its next row only resets it, so the next path starts after."""
        s = slice(self.path_start[i], self.row)
        self.adv[s, i], self.ret[s, i] = gae_and_targets(self.rew[s, i], self.val[s, i], last_val, self.gamma, self.lam)
        self.path_start[i] = self.row + 1

    def open_paths(self):
        return self.path_start < self.row

    def get(self, resetting):
        """The epoch's transitions (all paths finished); ``resetting``: copies whose next row is a reset row."""
        v = self.valid[:self.row]
        data = as_tensors(self.obs[:self.row][v], self.act[:self.row][v], self.adv[:self.row][v],
                          self.ret[:self.row][v], self.logp[:self.row][v])
        self.row = 0
        self.path_start[:] = np.where(resetting, 1, 0)
        return data


# ---- the update (Spinning Up's update(), without MPI and the logger) -----------------------

def loss_pi(ac, data):
    pi, logp = ac.pi(data["obs"], data["act"])
    loss = -(logp * data["adv"]).mean()
    info = dict(kl=(data["logp"] - logp).mean().item(), ent=pi.entropy().mean().item())
    return loss, info


def loss_v(ac, data):
    return ((ac.v(data["obs"]) - data["ret"]) ** 2).mean()


def update(ac, pi_opt, vf_opt, data, train_v_iters, parts):
    t0 = time.perf_counter()
    pi_l_old, pi_info_old = loss_pi(ac, data)  # diagnostics before the step, as Spinning Up logs them
    pi_l_old = pi_l_old.item()
    v_l_old = loss_v(ac, data).item()
    pi_opt.zero_grad()
    loss, pi_info = loss_pi(ac, data)
    loss.backward()
    pi_opt.step()
    t1 = time.perf_counter()
    for _ in range(train_v_iters):
        vf_opt.zero_grad()
        lv = loss_v(ac, data)
        lv.backward()
        vf_opt.step()
    t2 = time.perf_counter()
    parts["pi update"], parts["V fit"] = t1 - t0, t2 - t1
    return dict(loss_pi=pi_l_old, loss_v=v_l_old, kl=pi_info["kl"], entropy=pi_info_old["ent"],
                delta_loss_pi=loss.item() - pi_l_old, delta_loss_v=lv.item() - v_l_old if train_v_iters else 0.0)


# ---- the rollouts ---------------------------------------------------------------------------

class VectorRollout:
    """``num_envs`` copies through ``gym.make_vec``; one forward pass samples all of their actions."""

    def __init__(self, env_id, n, steps, gamma, lam, seed):
        self.envs = gym.make_vec(env_id, num_envs=n)
        mode = self.envs.metadata.get("autoreset_mode", gym.vector.AutoresetMode.NEXT_STEP)
        if mode != gym.vector.AutoresetMode.NEXT_STEP:
            raise ValueError(f"needs a vector environment with autoreset mode NEXT_STEP; got {mode}")
        self.obs_space, self.act_space = self.envs.single_observation_space, self.envs.single_action_space
        self.n, self.steps = n, steps
        self.buf = VecVPGBuffer(n, int(np.prod(self.obs_space.shape)), steps, gamma, lam)
        self.o = self.envs.reset(seed=seed)[0]
        self.resetting = np.zeros(n, bool)
        self.ep_ret, self.ep_len = np.zeros(n), np.zeros(n, np.int64)

    def collect(self, ac, log):
        """Steps until at least ``steps`` transitions are stored (the last vector step may add up to n - 1)."""
        buf, stored = self.buf, 0
        while stored < self.steps:
            a, v, logp = ac.step(torch.as_tensor(self.o, dtype=torch.float32))
            o2, r, term, trunc, _ = self.envs.step(a)
            valid = ~self.resetting
            buf.store(self.o, a, r, v, logp, valid)
            log["VVals"].extend(v[valid])
            stored += int(valid.sum())
            self.ep_ret += np.where(valid, r, 0.0)
            self.ep_len += valid
            ended = valid & (term | trunc)
            if ended.any():
                last = np.zeros(self.n, np.float32)  # 0 where the episode terminated
                boot = ended & ~term                 # truncated by the time limit: bootstrap with V(s_T)
                if boot.any():
                    with torch.no_grad():
                        last[boot] = ac.v(torch.as_tensor(o2[boot], dtype=torch.float32)).numpy()
                for i in np.flatnonzero(ended):
                    buf.finish_path(i, last[i])
                log["EpRet"].extend(self.ep_ret[ended])
                log["EpLen"].extend(self.ep_len[ended])
                self.ep_ret[ended], self.ep_len[ended] = 0.0, 0
            self.resetting, self.o = ended, o2
        cut = buf.open_paths()  # episodes still running at the batch's end: bootstrap with V(s_T)
        if cut.any():
            with torch.no_grad():
                last = ac.v(torch.as_tensor(self.o[cut], dtype=torch.float32)).numpy()
            for i, lv in zip(np.flatnonzero(cut), last):
                buf.finish_path(i, lv)
        return buf.get(self.resetting), stored

    def close(self):
        self.envs.close()


class SingleRollout:
    """Spinning Up's loop: one ``gym.make`` environment, one forward pass per step, exactly ``steps`` steps."""

    def __init__(self, env_id, steps, gamma, lam, seed):
        self.env = gym.make(env_id)
        self.obs_space, self.act_space = self.env.observation_space, self.env.action_space
        self.steps = steps
        self.buf = VPGBuffer(int(np.prod(self.obs_space.shape)), steps, gamma, lam)
        self.o = self.env.reset(seed=seed)[0]
        self.ep_ret, self.ep_len = 0.0, 0

    def collect(self, ac, log):
        for t in range(self.steps):
            a, v, logp = ac.step(torch.as_tensor(self.o, dtype=torch.float32))
            o2, r, term, trunc, _ = self.env.step(a.item())
            self.ep_ret += r
            self.ep_len += 1
            self.buf.store(self.o, a, r, v, logp)
            log["VVals"].append(v)
            self.o = o2
            epoch_ended = t == self.steps - 1
            if term or trunc or epoch_ended:
                if term:
                    last = 0.0
                else:  # truncated or cut by the epoch's end: bootstrap (Spinning Up calls step() for it)
                    _, last, _ = ac.step(torch.as_tensor(self.o, dtype=torch.float32))
                self.buf.finish_path(last)
                if term or trunc:
                    log["EpRet"].append(self.ep_ret)
                    log["EpLen"].append(self.ep_len)
                self.o, self.ep_ret, self.ep_len = self.env.reset()[0], 0.0, 0
        return self.buf.get(), self.steps

    def close(self):
        self.env.close()


# ---- the loop and the timing ------------------------------------------------------------------

def run(env_id="CartPole-v1", num_envs=8, threads=None, epochs=10, steps_per_epoch=4000, hidden=(64, 64),
        gamma=0.99, lam=0.97, pi_lr=1e-2, vf_lr=1e-3, train_v_iters=80, seed=0, verbose=False):
    """Train for ``epochs`` epochs; returns the list of per-epoch records (seconds and diagnostics)."""
    torch.set_num_threads(threads or TORCH_THREADS)
    torch.manual_seed(seed)
    np.random.seed(seed)
    if num_envs == 1:
        rollout = SingleRollout(env_id, steps_per_epoch, gamma, lam, seed)
    else:
        rollout = VectorRollout(env_id, num_envs, steps_per_epoch, gamma, lam, seed)
    ac = ActorCritic(rollout.obs_space, rollout.act_space, tuple(hidden))
    pi_opt = torch.optim.Adam(ac.pi.parameters(), lr=pi_lr)
    vf_opt = torch.optim.Adam(ac.v.parameters(), lr=vf_lr)
    records = []
    try:
        for epoch in range(1, epochs + 1):
            log, parts = {"VVals": [], "EpRet": [], "EpLen": []}, {}
            t0 = time.perf_counter()
            data, stored = rollout.collect(ac, log)
            t1 = time.perf_counter()
            info = update(ac, pi_opt, vf_opt, data, train_v_iters, parts)
            record = dict(epoch=epoch, steps=stored, episodes=len(log["EpRet"]),
                          mean_return=float(np.mean(log["EpRet"])) if log["EpRet"] else float("nan"),
                          mean_v=float(np.mean(log["VVals"])), **info)
            t2 = time.perf_counter()
            record.update(epoch_s=t2 - t0, rollout_s=t1 - t0, **{k + " s": v for k, v in parts.items()})
            records.append(record)
            if verbose:
                print(f"  epoch {epoch:3d}: {record['epoch_s']:.3f} s = rollout {record['rollout_s']:.3f} + "
                      f"pi update {parts['pi update']:.3f} + V fit {parts['V fit']:.3f} + rest "
                      f"{record['epoch_s'] - record['rollout_s'] - sum(parts.values()):.3f}; {stored} steps, "
                      f"{record['episodes']} episodes, mean return {record['mean_return']:.1f}", file=sys.stderr)
    finally:
        rollout.close()
    return records


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="CartPole-v1", help="a gymnasium id with Discrete actions (default: %(default)s)")
    p.add_argument("--num-envs", type=int, nargs="+", default=[8],
                   help="environment copies, one setting each; 1 is a plain gym.make env (default: %(default)s)")
    p.add_argument("--threads", type=int, nargs="+", default=[None],
                   help=f"torch.set_num_threads, one setting each (default: torch's own, here {TORCH_THREADS})")
    p.add_argument("--epochs", type=int, default=10, help="the first is not timed (default: %(default)s)")
    p.add_argument("--steps-per-epoch", type=int, default=4000, help="(default: %(default)s)")
    p.add_argument("--train-v-iters", type=int, default=80, help="(default: %(default)s)")
    p.add_argument("--hidden", type=int, nargs="*", default=[64, 64], help="(default: %(default)s)")
    p.add_argument("--pi-lr", type=float, default=1e-2, help="(default: %(default)s, nppg's; Spinning Up's is 3e-4)")
    p.add_argument("--vf-lr", type=float, default=1e-3, help="(default: %(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--verbose", action="store_true", help="each epoch's time, its parts and the mean return (stderr)")
    args = p.parse_args(argv)
    if args.epochs < 2 or args.steps_per_epoch < 1 or min(args.num_envs) < 1 or args.train_v_iters < 0:
        p.error("--epochs must be >= 2, --steps-per-epoch and --num-envs >= 1, --train-v-iters >= 0")
    if any(t is not None and t < 1 for t in args.threads):
        p.error("--threads must be >= 1")
    for num_envs in args.num_envs:
        for threads in args.threads:
            records = run(args.env, num_envs, threads, args.epochs, args.steps_per_epoch, args.hidden,
                          pi_lr=args.pi_lr, vf_lr=args.vf_lr, train_v_iters=args.train_v_iters, seed=args.seed,
                          verbose=args.verbose)
            timed = records[1:]
            median = statistics.median(r["epoch_s"] for r in timed)
            envs = "1 env (gym.make)" if num_envs == 1 else f"{num_envs} envs"
            print(f"pytorch VPG, {args.env}, {envs}, {args.steps_per_epoch} steps, torch threads "
                  f"{torch.get_num_threads()}: median epoch {median:.3f} s (epochs 2-{args.epochs})", flush=True)
            if args.verbose:
                parts = {k: statistics.median(r[k] for r in timed) for k in ("rollout_s", "pi update s", "V fit s")}
                print("  medians: " + ", ".join(f"{k} {v:.3f}" for k, v in parts.items()), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
