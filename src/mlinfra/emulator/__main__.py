"""`python -m mlinfra.emulator`: the detached server process `mlinfra emulator start` runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from mlinfra.emulator.process import serve


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m mlinfra.emulator")
    parser.add_argument("--root", required=True, help="The spec's folder.")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port.")
    parser.add_argument(
        "--insecure-any-credentials",
        action="store_true",
        help="Accept any request signature, or none (see `mlinfra emulator start --help`).",
    )
    args = parser.parse_args()
    return serve(
        Path(args.root).absolute(),
        args.port,
        insecure_any_credentials=args.insecure_any_credentials,
    )


if __name__ == "__main__":
    raise SystemExit(main())
