"""The ``dvsafeguard`` command.

Each command lives in the module that does its job and registers itself here through a
``register(subparsers)`` function; ``main`` only dispatches and turns library errors into a clear
message and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .errors import DvsafeguardError

# module → registers one or more subcommands
COMMAND_MODULES = [
    "dvsafeguard.report",
    "dvsafeguard.lint",
    "dvsafeguard.packtest",
    "dvsafeguard.compare",
    "dvsafeguard.diff",
    "dvsafeguard.schemas",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dvsafeguard",
        description="Evaluate, explain, test, lint and compare domestic-abuse safeguarding rule packs.",
    )
    parser.add_argument("--version", action="store_true", help="print the library version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from . import __version__

        print(__version__)
        return 0
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except DvsafeguardError as e:
        print(f"dvsafeguard: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # pragma: no cover - e.g. piped into head
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
