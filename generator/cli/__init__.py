"""`python -m generator COMMAND`: the commands behind the make targets.

Each command lives in a module of this package that provides `register(subparsers)`;
the parser it adds sets `run`, a function of the parsed arguments returning the exit
status. Errors the project raises on purpose, and the system's refusals (OSError), become one
message and exit status 1.
"""
from __future__ import annotations

import argparse
import sys

from generator.errors import ProjectError, os_error_message

COMMAND_MODULES = ["generator.cli.site", "generator.cli.transfer", "generator.cli.pipeline"]


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(
        prog="python -m generator",
        description="Publishes the LAION2B benchmark datasets: the datasets page, the build "
                    "pipeline, and download and verify tools. Each command has its own --help.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except ProjectError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # the system refused a read or a write the command could not foresee
        print(f"error: {os_error_message(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
