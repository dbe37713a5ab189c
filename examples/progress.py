"""Plumbing shared by the examples, not part of the lesson: you can skip this file.

``flags(train)`` makes a command line from the keyword arguments of an example's ``train`` function (each
``name=default`` becomes ``--name``), so a lab can vary every setting without editing code; ``nppg train``'s names
work too (``--env``, ``--pi-lr``, ``--steps-per-epoch`` for ``--env-name``, ``--lr``, ``--batch-size``).
``Progress(out, config)`` writes, if ``out`` is a folder name, config.json and one row of progress.csv per
epoch there, with the columns of nppg's own runs (nppg/tools/logger.py), the ones an example does not
compute left empty; ``nppg plot OUT1 OUT2 ...`` then draws several examples on one set of axes.
"""
import argparse
import csv
import inspect
import json
import os

from nppg.algorithm import episode_stats
from nppg.engine.threads import set_threads
from nppg.tools.logger import COLUMNS
from nppg.tools.flags import ALIASES, Parser  # no flag abbreviated; a mistyped one gets "did you mean"

set_threads(1)  # one BLAS thread per product: more only slow these small products, much when a core is busy


def flags(train, doc, argv=None):
    """The keyword arguments of ``train`` from the command line (``argv``, or the script's)."""
    args = vars(parser(train, doc).parse_args(argv))
    return {k: tuple(v) if isinstance(v, list) else v for k, v in args.items()}


def parser(train, doc):
    """A flag for each keyword argument of ``train``: ints, floats, strings, tuples of ints (``--hidden 64 64``),
    booleans (``--no-name`` for a True default, ``--name`` for a False one)."""
    p = Parser(description=doc.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, param in inspect.signature(train).parameters.items():
        flag, default = "--" + name.replace("_", "-"), param.default
        also = [train_flag for train_flag, alias in ALIASES.items() if alias == flag]  # nppg train's name for it
        if isinstance(default, bool):
            p.add_argument(flag.replace("--", "--no-") if default else flag, dest=name, default=default,
                           action="store_false" if default else "store_true")
        elif isinstance(default, tuple):
            p.add_argument(flag, *also, type=int, nargs="+", default=default,
                           help=f"default: {' '.join(map(str, default))}")
        else:
            p.add_argument(flag, *also, type=str if default is None else type(default), default=default,
                           help=f"default: {default}")
    return p


class Progress:
    def __init__(self, out, config):
        self.file = None
        if out is not None:
            os.makedirs(out, exist_ok=True)
            with open(os.path.join(out, "config.json"), "w") as f:
                json.dump({k: v for k, v in config.items() if k != "out"}, f, indent=1)
            self.file = open(os.path.join(out, "progress.csv"), "w", newline="")
            self.writer = csv.writer(self.file)
            self.writer.writerow(COLUMNS)

    def write(self, ep_returns=None, ep_lengths=None, **record):
        """One epoch: ``record`` keyed by column names, plus the returns and lengths of its episodes."""
        if ep_returns is not None:
            record.update(episode_stats(ep_returns, ep_lengths))
        if self.file is not None:
            self.writer.writerow(["" if record.get(c) is None else record[c] for c in COLUMNS])
            self.file.flush()

    def close(self):
        if self.file is not None:
            self.file.close()
