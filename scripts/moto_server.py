"""A single-threaded moto server on 127.0.0.1, the local stand-in for DynamoDB.

moto's own `moto_server` serves each request on a thread, and two concurrent
conditional UpdateItems on one item can then both succeed; served one request at a
time, conditions hold as they do on DynamoDB. Prints its URL once listening.

Usage: python moto_server.py [PORT]   (default 0: a free port)
"""

import signal
import sys

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server(
        "127.0.0.1",
        port,
        app,
        threaded=False,
        processes=1,
        request_handler=MotoRequestHandler,
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"moto listening on http://127.0.0.1:{server.port}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
