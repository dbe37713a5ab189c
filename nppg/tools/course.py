"""The ``nppg exercise`` command: list, start, check, train, autograder and experiment (the course is ``nppg/course/``;
docs/teaching.md, docs/grading.md). hypothesis is imported only when a workspace is checked."""
import os

from ..course.ladder import GRADED, LADDER, TIMEOUT, ladder_text, select
from ..course.experiment import add_experiment_args, cmd_experiment
from ..course.train import TRAIN, train
from ..course.workspace import start


def add_exercise_args(parser):
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("list", allow_abbrev=False, help="print the ladder of exercises")
    st = sub.add_parser("start", allow_abbrev=False,
                        help="write a workspace: your own copy of the algorithm layer, with blanks")
    st.add_argument("dir", help="a new or empty directory")
    st.add_argument("--solutions", action="store_true", help="write nppg's own bodies (for instructors)")
    st.add_argument("--prefill", nargs="+", default=None, metavar="NAME",
                    help="exercises given out solved, by name or ladder number (e.g. backprop adam, or 1 10)")
    ch = sub.add_parser("check", allow_abbrev=False,
                        help="grade a workspace, exercise by exercise, in ladder order (docs/grading.md)")
    ch.add_argument("dir")
    ch.add_argument("names", nargs="*", metavar="NAME",
                    help=f"exercises to check, by name or ladder number (4, or 4-7); default: all {len(GRADED)}")
    ch.add_argument("--json", default=None, metavar="FILE",
                    help="also write Gradescope's results.json, whatever happens (a hang, a crash, a Ctrl-C)")
    ch.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                    help=f"time limit of one exercise (default {TIMEOUT:g}); past it the exercise fails")
    ch.add_argument("--jobs", type=int, default=1, help="exercises graded at once, each in its own process (default: %(default)s)")
    ch.add_argument("--config", default=None, metavar="FILE",
                    help="the instructor's points, hidden checks and time limit (JSON; docs/grading.md)")
    tr = sub.add_parser("train", allow_abbrev=False, help="train the workspace's own vpg and evaluate the final policy")
    tr.add_argument("dir")
    tr.add_argument("--env", default="CartPole-v1", choices=sorted(TRAIN), help="(default: %(default)s)")
    tr.add_argument("--seed", type=int, default=0, help="(default: %(default)s)")
    ag = sub.add_parser("autograder", allow_abbrev=False,
                        help="write a Gradescope autograder: setup.sh, run_autograder, the zip (docs/grading.md)")
    ag.add_argument("out", help="the folder to write it into")
    ag.add_argument("--config", default=None, metavar="FILE",
                    help="the instructor's points, hidden checks and time limit (JSON), packed into the autograder")
    add_experiment_args(sub.add_parser(
        "experiment", allow_abbrev=False,
        help="run your package on a CS285-style grid: the figures and table a report needs (docs/experiments.md)"))


def cmd_exercise(args):
    if args.action == "list":
        print(ladder_text())
        return 0
    if args.action == "start":
        prefill = [e.name for e in select(args.prefill) if e in LADDER] if args.prefill else []
        pkg = start(args.dir, args.solutions, prefill)
        given = f"; given out solved: {', '.join(prefill)}" if prefill and not args.solutions else ""
        print(f"nppg exercise: wrote {pkg} ({'with the solutions' if args.solutions else 'with blanks'}{given}); "
              f"read {os.path.join(args.dir, 'README.md')}, then: nppg exercise check {args.dir}")
        return 0
    if args.action == "check":
        from ..course.grader import load_config, run_checks
        return run_checks(args.dir, args.names, args.json, timeout=args.timeout, jobs=args.jobs,
                          config=load_config(args.config))
    if args.action == "autograder":
        from ..course.autograder import write
        from ..course.grader import load_config
        path = write(args.out, load_config(args.config))
        print(f"nppg exercise autograder: wrote {path} (upload it to Gradescope), with setup.sh and run_autograder "
              f"beside it; students submit their {os.path.join('mypg', '')} folder or its modules")
        return 0
    if args.action == "experiment":
        return cmd_experiment(args)
    try:
        passed = train(args.dir, args.env, args.seed)[2]
    except NotImplementedError as e:
        print(f"nppg exercise train: not implemented yet: {e}; check with: nppg exercise check {args.dir}")
        return 1
    return 0 if passed else 1
