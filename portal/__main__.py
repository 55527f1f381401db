"""`python -m portal`: the development/demo server. Production uses gunicorn 'portal:create_app()'."""

from __future__ import annotations

import argparse
import sys

from werkzeug.serving import run_simple

from activation.errors import ConfigurationError
from portal import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m portal", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args(argv)
    try:
        app = create_app()
    except ConfigurationError as exc:  # an operator's mistake: say what to fix, no traceback
        print(f"Error: {exc}", file=sys.stderr)
        sys.exit(2)
    run_simple(args.host, args.port, app, threaded=True, use_reloader=False, use_debugger=False)


if __name__ == "__main__":
    main()
