"""`rlrec` entry point: builds the argument parser from the command modules and maps
`RlrecError` to a one-line message on stderr and exit status 2 (no traceback)."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from rlrec.data.errors import Option, RlrecError, error_line, tidy

# Each module defines `register(commands, bench)`: `commands` is the top-level subparsers
# object, `bench` the subparsers of `rlrec bench`. A parser's handler is set with
# `set_defaults(handler=fn)`; fn(args) -> int exit status.
COMMAND_MODULES = (
    "rlrec.cli.data_commands",  # generate, import, info
    "rlrec.cli.sim_commands",  # baselines, bench env
    "rlrec.cli.train_commands",  # train, resume, eval, recommend, bench train
    "rlrec.cli.offline_commands",  # split, calibrate, ab
    "rlrec.cli.tune_commands",  # tune
    "rlrec.cli.serve_commands",  # serve (the HTTP API, started by module name)
)


# The flag spelling of each use-case parameter an error can name (`RlrecError.option`), where
# it is not simply `--` + the name with dashes.
FLAGS = {
    "n_users": "--users",
    "n_items": "--items",
    "n_interactions": "--interactions",
    "validation_fraction": "--validation",
    "test_fraction": "--test",
    "cold_user_fraction": "--cold-users",
    "k": "-k",
}


def flag_wording(option: Option) -> str:
    """An option as the CLI spells it: its flag, then the value if the message shows one. A
    dotted config key (`agent.replay_size`) is set in a config file, not by a flag: kept."""
    if "." in option.name:
        flag = option.name
    else:
        flag = FLAGS.get(option.name, "--" + option.name.replace("_", "-"))
    return flag if option.shown is None else f"{flag} {option.shown}"


class _Parser(argparse.ArgumentParser):
    """argparse exits with status 2 on bad flags already; keep its message to one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {tidy(message)}\n")  # a huge bad value is cut


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="rlrec",
        description="Deep-RL recommender lab: datasets, simulator, DQN training, evaluation.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    bench_parser = commands.add_parser("bench", help="speed benchmarks that print figures")
    bench = bench_parser.add_subparsers(dest="bench_command", metavar="BENCH", parser_class=_Parser)
    bench_parser.set_defaults(handler=lambda args: _usage(bench_parser))
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # that command family is not written yet
                continue
            raise
        module.register(commands, bench)
    return parser


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        return _usage(parser)
    try:
        status = handler(args)
    except RlrecError as exc:
        print(f"rlrec: error: {exc.worded(flag_wording)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("rlrec: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _reader_gone()
    except OSError as exc:
        # Unwritable or read-only --out, --out below a file, unreadable inputs, disk full:
        # the operating system's refusal, worded as one line naming the path.
        print(f"rlrec: error: {error_line(exc, getattr(args, 'out', None))}", file=sys.stderr)
        return 2
    return int(status or 0)


def _reader_gone() -> int:
    """The reader went away (`rlrec info --json | head`): not an error of ours. Point stdout
    at devnull so the interpreter's final flush does not raise again."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())
