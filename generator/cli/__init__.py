"""`python -m generator COMMAND` (installed as `laion2b`): the commands behind the make targets.

Each command lives in a module of this package that provides `register(subparsers)`; the parser
it adds sets `run`, a function of the parsed arguments returning the exit status. A command's
module is imported only when that command is run (or asked for its --help): `laion2b --help` and
`laion2b verify --help` load no numeric, HDF5 or plotting library, and a participant's install
without the pipeline's and the site's extras still runs `download` and `verify`. Errors the
project raises on purpose, and the system's refusals (OSError), become one message and exit
status 1; so does a command whose extra is not installed.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from dataclasses import dataclass

from generator.errors import ProjectError, os_error_message

PACKAGE = "laion2b-datasets"


@dataclass(frozen=True)
class Command:
    """A command: the module that registers it, its one-line help, the extra it needs (None: the core)."""

    module: str
    help: str
    extra: str | None = None


COMMANDS: dict[str, Command] = {
    "render": Command("generator.cli.site", "generate the datasets page of every edition from the releases, "
                                            "the wording and the manifests", "site"),
    "linkcheck": Command("generator.cli.site", "HEAD every download link of the page and compare its size with "
                                               "the manifests", "site"),
    "make-reference": Command("generator.cli.site", "write the maintainers' page of make targets and variables "
                                                    "from the Makefile", "site"),
    "verify": Command("generator.cli.transfer", "check files in a folder against the md5 manifest (size first, "
                                                "then md5)"),
    "download": Command("generator.cli.transfer", "resumable, verified download of bundles listed in the "
                                                  "manifests"),
    "pipeline": Command("generator.cli.pipeline", "run one stage of the build pipeline", "pipeline"),
}


def _chosen(argv: list[str]) -> str | None:
    """The command named on the command line (its first word that is not an option), if any."""
    return next((word for word in argv if not word.startswith("-")), None)


def build_parser(chosen: str | None) -> argparse.ArgumentParser:
    """The parser of the whole command line: the full parser of command `chosen` (and of the
    commands of its module) and a one-line entry for each other command.

    Example: build_parser("verify") imports generator.cli.transfer only, and no HTTP client.
    """
    parser = argparse.ArgumentParser(
        prog="laion2b",
        description="Publishes the LAION2B benchmark datasets: the datasets page, the build "
                    "pipeline, and download and verify tools. Each command has its own --help. "
                    f"The core install ({PACKAGE}) runs download and verify; render and linkcheck "
                    f"need the 'site' extra and pipeline the 'pipeline' extra ({PACKAGE}[site,pipeline]).")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    module = COMMANDS[chosen].module if chosen in COMMANDS else None
    for name, command in COMMANDS.items():
        if command.module != module:
            commands.add_parser(name, help=command.help)
        elif name == chosen:
            importlib.import_module(module).register(commands)
    return parser


def missing_extra(name: str, error: ModuleNotFoundError) -> str:
    """The message for command `name` run without the library `error` names."""
    extra = COMMANDS[name].extra
    install = f"pip install '{PACKAGE}[{extra}]'" if extra else f"pip install --force-reinstall {PACKAGE}"
    return f"'{name}' needs the Python module '{error.name}', which is not installed: {install}"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    name = _chosen(argv)
    try:
        args = build_parser(name).parse_args(argv)
        return args.run(args) or 0
    except ProjectError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as exc:
        if name not in COMMANDS or (exc.name or "generator").split(".")[0] == "generator":
            raise
        print(f"error: {missing_extra(name, exc)}", file=sys.stderr)
        return 1
    except OSError as exc:  # the system refused a read or a write the command could not foresee
        print(f"error: {os_error_message(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
