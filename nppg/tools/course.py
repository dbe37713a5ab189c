"""The ``nppg exercise`` command: list, start, check and train (the course is ``nppg/course/``).
hypothesis is imported only when a workspace is checked."""
import os

from ..course.ladder import ladder_text
from ..course.train import TRAIN, train
from ..course.workspace import start


def add_exercise_args(parser):
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("list", help="print the ladder of exercises")
    st = sub.add_parser("start", help="write a workspace: your own copy of the algorithm layer, with blanks")
    st.add_argument("dir", help="a new or empty directory")
    st.add_argument("--solutions", action="store_true", help="write nppg's own bodies (for instructors)")
    ch = sub.add_parser("check", help="grade a workspace, exercise by exercise, in ladder order")
    ch.add_argument("dir")
    ch.add_argument("names", nargs="*", metavar="NAME", help="exercises to check (default: all)")
    ch.add_argument("--json", default=None, metavar="FILE", help="also write Gradescope's results.json format")
    tr = sub.add_parser("train", help="train the workspace's own vpg and evaluate the final policy")
    tr.add_argument("dir")
    tr.add_argument("--env", default="CartPole-v1", choices=sorted(TRAIN))
    tr.add_argument("--seed", type=int, default=0)


def cmd_exercise(args):
    if args.action == "list":
        print(ladder_text())
        return 0
    if args.action == "start":
        pkg = start(args.dir, args.solutions)
        print(f"nppg exercise: wrote {pkg} ({'with the solutions' if args.solutions else 'with blanks'}); "
              f"read {os.path.join(args.dir, 'README.md')}, then: nppg exercise check {args.dir}")
        return 0
    if args.action == "check":
        from ..course.grader import run_checks
        return run_checks(args.dir, args.names, args.json)
    try:
        passed = train(args.dir, args.env, args.seed)[2]
    except NotImplementedError as e:
        print(f"nppg exercise train: not implemented yet: {e}; check with: nppg exercise check {args.dir}")
        return 1
    return 0 if passed else 1
