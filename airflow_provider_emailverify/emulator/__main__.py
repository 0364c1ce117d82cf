# Licensed under the Apache License, Version 2.0.
"""``python -m airflow_provider_emailverify.emulator``: serve all five vendor APIs until stopped."""

from __future__ import annotations

import argparse

from airflow_provider_emailverify.emulator.core import DEFAULT_CREDITS, DEFAULT_ROWS_PER_SECOND


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m airflow_provider_emailverify.emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port, 0 for any free one (default 0)")
    parser.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY",
        help="an accepted API key (repeatable; default 'emulator-key')",
    )
    parser.add_argument("--credits", type=int, default=DEFAULT_CREDITS, help="starting credits per key")
    parser.add_argument(
        "--rows-per-second", type=float, default=DEFAULT_ROWS_PER_SECOND, help="how fast jobs progress"
    )
    args = parser.parse_args(argv)
    from airflow_provider_emailverify.emulator.server import serve_forever

    serve_forever(
        host=args.host,
        port=args.port,
        api_keys=args.api_keys,
        credits=args.credits,
        rows_per_second=args.rows_per_second,
    )


if __name__ == "__main__":
    main()
