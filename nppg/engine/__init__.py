"""The engine: what makes a run of ``nppg.vpg`` fast and safe, kept out of the algorithm a student reads.

Each piece is a drop-in for a plain piece of the algorithm layer, pinned to it by a test:

    value.py    FastValueFunction   ValueFunction with (22) in row blocks, on threads, in float64 or float32
    rollout.py  CheckedRollout      Rollout that refuses non-finite numbers and records actions for replay
                make_env            gymnasium.make_vec with its vectorization modes and one-line errors
    threads.py  set_threads         one BLAS thread per product while training
    memory.py   keep_freed_memory   glibc's malloc reuses freed memory instead of faulting in fresh pages
    signals.py  stop_signals        Ctrl-C finishes the epoch and saves; a second one stops at once
    config.py   EngineConfig        how a run is computed; check_config, the range of every setting
    checkpoint.py                   .npz checkpoints, the training state, and resume_settings: where a resume is decided
    run.py      train               nppg.vpg with all of the above, plus timing, a divergence check and resume

The engine imports the algorithm and nothing of the run tools (``nppg/tools``), which import it.
"""
from .rollout import CheckedRollout, NonFiniteError, make_env
from .config import EngineConfig
from .run import DivergedError, train
from .value import FastValueFunction
