"""Every command's flags: taken only as written (never abbreviated), a mistyped one answered with the nearest,
one vocabulary for the examples and ``nppg train``, and a default shown for every flag that has one."""
import argparse
import ast
import os

import pytest
from scripts import load_example

import nppg
from nppg.tools.cli import build_parser, main
from nppg.tools.flags import given_settings
from nppg.tools.sweep import check_flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = ["1_simple_pg", "2_reward_to_go", "3_vpg_gae", "4_continuous", "5_one_call"]


def parsers(parser, path=()):
    """(the words that reach it, parser) for ``parser`` and each of its subcommands', at every depth."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from parsers(sub, (*path, name))


def filler(parser):
    """The least that ``parser`` accepts: a word for each positional that needs one, and its first subcommand."""
    words = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            name, sub = next(iter(action.choices.items()))
            words += [name, *filler(sub)]
        elif not action.option_strings and action.nargs not in ("*", "?"):
            words += ["x"] * (action.nargs if isinstance(action.nargs, int) else 1)
    return words


def example_parser(name):
    example = load_example(name)
    return load_example("progress").parser(example.train, example.__doc__)


def train_parser():
    return dict(parsers(build_parser()))[("train",)]


def every_parser():
    """(the parser given the command line, the words before the flags, the parser that reads the flags): nppg's
    commands (``nppg``, ``nppg train``, ``nppg exercise check``, ...), then each example's."""
    top = build_parser()
    yield from ((top, path, parser) for path, parser in parsers(top))
    yield from ((parser, (), parser) for parser in map(example_parser, EXAMPLES))


def refused(parser, argv, capsys):
    """The error ``parser`` gives ``argv`` (it must give one)."""
    with pytest.raises(SystemExit) as stop:
        parser.parse_args(argv)
    assert stop.value.code == 2
    return capsys.readouterr().err


def test_no_flag_of_any_command_is_taken_abbreviated(capsys):
    """Every beginning of every flag that is not itself a flag, in every parser nppg and its examples have, is an
    unrecognized argument: ``--lr`` was once ``--lr-decay`` and ``--steps`` ``--steps-per-epoch``."""
    checked = 0
    for top, path, parser in every_parser():
        flags = {f for action in parser._actions for f in action.option_strings}
        for flag in sorted(f for f in flags if f.startswith("--")):
            for prefix in (flag[:k] for k in range(3, len(flag))):
                if prefix not in flags:
                    err = refused(top, [*path, prefix, *filler(parser)], capsys)
                    assert f"unrecognized arguments: {prefix}" in err, (parser.prog, prefix, err)
                    checked += 1
    assert checked > 800


@pytest.mark.parametrize("command", [["train"], ["eval", "RUN"], ["plot", "RUN"], ["sweep"], ["bench"],
                                     ["exercise", "list"], ["exercise", "train", "DIR"]])
def test_steps_is_not_steps_per_epoch_in_any_command(command, capsys):
    err = refused(build_parser(), [*command, "--steps", "500"], capsys)
    assert f"usage: nppg {' '.join(w for w in command if w.islower())}" in err
    assert "unrecognized arguments: --steps" in err


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_examples_refuse_steps_and_take_train_s_names_too(name, capsys):
    assert "unrecognized arguments: --steps 500" in refused(example_parser(name), ["--steps", "500"], capsys)
    settings = vars(example_parser(name).parse_args(["--env", "Acrobot-v1", "--pi-lr", "0.02",
                                                     "--steps-per-epoch", "300"]))
    assert (settings["env_name"], settings["lr"], settings["batch_size"]) == ("Acrobot-v1", 0.02, 300)
    settings = vars(example_parser(name).parse_args(["--env-name", "Acrobot-v1", "--lr", "0.03",
                                                     "--batch-size", "400"]))
    assert (settings["env_name"], settings["lr"], settings["batch_size"]) == ("Acrobot-v1", 0.03, 400)


def test_every_argument_parser_in_the_repository_takes_no_abbreviation():
    """Parsers made in scripts' main() are not reached by the walk above: each ArgumentParser(...) written in
    nppg/, examples/ and benchmarks/ says allow_abbrev=False (nppg's Parser always does)."""
    calls = 0
    for folder in ("nppg", "examples", "benchmarks"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, folder)):
            for file in (f for f in files if f.endswith(".py")):
                path = os.path.join(dirpath, file)
                for node in ast.walk(ast.parse(open(path).read(), path)):
                    func = getattr(node, "func", None)
                    if getattr(func, "attr", getattr(func, "id", None)) == "ArgumentParser":
                        calls += 1
                        assert any(k.arg == "allow_abbrev" and getattr(k.value, "value", None) is False
                                   for k in node.keywords), f"{path}:{node.lineno}"
    assert calls >= 15


def test_train_s_own_names_and_spinning_up_s_are_one_setting_each():
    argv = ["train", "--lr", "0.05", "--batch-size", "300", "--env-name", "Acrobot-v1"]
    args = build_parser().parse_args(argv)
    assert (args.pi_lr, args.steps_per_epoch, args.env, args.lr_decay) == (0.05, 300, "Acrobot-v1", False)
    assert given_settings(argv) == {"pi_lr": 0.05, "steps_per_epoch": 300, "env": "Acrobot-v1"}
    assert given_settings(["--steps", "500", "--lr-decay"]) == {"lr_decay": True}
    check_flags(["--lr", "0.05", "--batch-size", "300"])  # nppg sweep passes them on as train does
    with pytest.raises(ValueError, match=r"not flags of nppg train: --steps 500; did you mean --steps-per-epoch\?"):
        check_flags(["--steps", "500"])


def test_train_help_shows_the_aliases():
    text = train_parser().format_help()
    for both in ("--pi-lr PI_LR, --lr PI_LR", "--steps-per-epoch M, --batch-size M", "--env ENV, --env-name ENV"):
        assert both in text


@pytest.mark.parametrize("argv, usage, hint", [
    (["train", "--epcohs", "3"], "usage: nppg train", "unrecognized arguments: --epcohs 3; did you mean --epochs?"),
    (["train", "--eval", "3"], "usage: nppg train", "did you mean --eval-every or --eval-episodes?"),
    (["train", "--lambda", "0.9"], "usage: nppg train", "did you mean --lam?"),
    (["eval", "RUN", "--episode", "3"], "usage: nppg eval", "did you mean --episodes?"),
    (["sweep", "--seed", "1"], "usage: nppg sweep", "did you mean --seeds?"),
    (["exercise", "check", "DIR", "--jsn", "F"], "usage: nppg exercise check", "did you mean --json?"),
    (["train", "--xyzzy"], "usage: nppg train", "unrecognized arguments: --xyzzy\n"),
])
def test_a_mistyped_flag_gets_its_command_s_usage_and_the_nearest_flag(argv, usage, hint, capsys):
    with pytest.raises(SystemExit):
        main(argv)
    err = capsys.readouterr().err
    assert err.startswith(usage) and hint in err and "did you mean" not in err.replace(hint, "")


def test_hidden_needs_at_least_one_width(capsys):
    for argv in (["train", "--hidden"], ["train", "--hidden", "--epochs", "1"], ["bench", "--hidden"]):
        assert "argument --hidden: expected at least one argument" in refused(build_parser(), argv, capsys)
    assert "expected at least one argument" in refused(example_parser("3_vpg_gae"), ["--hidden"], capsys)


def test_version(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out == f"nppg {nppg.__version__}\n"


def test_every_flag_with_a_default_says_it_in_help():
    """Switches aside (off unless given), a flag whose default is not None says its default in --help."""
    for path, parser in parsers(build_parser()):
        for action in parser._actions:
            if action.option_strings and action.nargs != 0 and action.default not in (None, argparse.SUPPRESS):
                assert "default" in (action.help or ""), (path, action.option_strings)
    text = train_parser().format_help()
    for shown in ("(default: 0)", "(default: 0.99)", "(default: 0.97)", "(default: 0.01)", "(default: 2000)",
                  "(default: 64 64)", "(default: 10; 0: only at the end)"):
        assert shown in " ".join(text.split())
