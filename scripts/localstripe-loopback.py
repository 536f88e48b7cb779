"""localstripe (a local Stripe fake, for tests) on 127.0.0.1 only, one store per process.

localstripe's own `localstripe --port N` binds every interface and keeps its store in
/tmp/localstripe.pickle (shared by every instance on the machine). This runs the same aiohttp
application on a loopback socket, keeps the store in memory only, and prints the port it listens
on as its first line (`LISTENING <port>`), so a test may ask for port 0 and never race for a port.

Usage: localstripe-loopback [--host 127.0.0.1] [--port 0]
"""

import argparse
import logging
import socket
import sys

from aiohttp import web

from localstripe import resources

# In memory only: no file shared between instances.
resources.Store.dump_to_disk = lambda self: None
resources.Store.try_load_from_disk = lambda self: None

from localstripe.server import app  # noqa: E402  (after the store is patched)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    print("LISTENING %d" % sock.getsockname()[1], flush=True)

    logger = logging.getLogger("aiohttp.access")
    logger.setLevel(logging.INFO)
    logger.addHandler(logging.StreamHandler(sys.stderr))
    web.run_app(app, sock=sock, access_log=logger, print=None)


if __name__ == "__main__":
    main()
