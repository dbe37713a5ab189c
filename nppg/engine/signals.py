"""Ctrl-C and SIGTERM while training: the first finishes the epoch and saves, the second stops at once.

    with stop_signals() as signals:
        nppg.train(callback=lambda record, state: bool(signals.received), ...)

Async environments' workers are forked with the handler installed: they too go on after the first
signal (the epoch is finished) and stop at the second, but only the main process says so. A second
signal raises ``KeyboardInterrupt`` (gymnasium may pass it back re-made from a worker's pipe); the
last checkpoint is whole, since checkpoints are written atomically.
"""
import contextlib
import os
import signal
import sys
import warnings


class Signals:
    def __init__(self, verbose=True):
        self.received, self.pid, self.verbose = [], os.getpid(), verbose

    def __call__(self, signum, frame):
        self.received.append(signum)
        if len(self.received) > 1:  # a second one: stop now
            warnings.simplefilter("ignore")  # gymnasium's complaints about workers stopped mid-step
            if os.getpid() != self.pid:  # a worker ends with this exception, and its traceback says nothing
                sys.stderr = open(os.devnull, "w")
            raise KeyboardInterrupt
        if os.getpid() == self.pid and self.verbose:
            print("\nnppg: interrupted; finishing this epoch and saving (interrupt again to stop at once)",
                  file=sys.stderr, flush=True)


@contextlib.contextmanager
def stop_signals(verbose=True):
    """SIGINT and SIGTERM handled as above while the block runs; the previous handlers put back after.
    ``verbose=False``: without the message (an MPI rank other than 0: rank 0 says it for all)."""
    signals = Signals(verbose)
    previous = {sig: signal.signal(sig, signals) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield signals
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
