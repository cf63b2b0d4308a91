"""Point this Python process (and nothing else) at the Okta simulator.

The peers talk to ``https://<org>.okta.com`` exactly as they would in production. Name
resolution is the only thing changed, and only inside this process: ``socket.getaddrinfo`` answers
``127.0.0.1:<port>`` for the org host (and its ``-admin`` host) on port 443. TLS still verifies
the simulator's certificate (valid for ``*.okta.com``) against the CA the harness passes in
``SSL_CERT_FILE`` / ``REQUESTS_CA_BUNDLE`` for this process. No /etc/hosts edit, no proxy, no
global setting.
"""

import argparse
import json
import os
import socket
import sys
import time

_real_getaddrinfo = socket.getaddrinfo


def redirect(org: str, port: int) -> None:
    """Resolve ``org`` and its admin host on port 443 to the simulator on loopback."""
    sub, _, rest = org.partition(".")
    hosts = {org, f"{sub}-admin.{rest}"}

    def getaddrinfo(host, service, *args, **kwargs):
        if isinstance(host, bytes):
            name = host.decode()
        else:
            name = host
        if name in hosts and str(service) in ("443", "https", "None"):
            return _real_getaddrinfo("127.0.0.1", port, *args, **kwargs)
        return _real_getaddrinfo(host, service, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo


def arguments(description: str) -> argparse.Namespace:
    """The arguments every peer driver takes; applies the redirect."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--org", required=True, help="org host, e.g. contoso.okta.com")
    p.add_argument("--port", required=True, type=int, help="the simulator's https port")
    p.add_argument("--workdir", required=True, help="a scratch directory for this run")
    args = p.parse_args()
    args.token = os.environ["OKTA_BENCH_TOKEN"]
    redirect(args.org, args.port)
    return args


def report(started: float, **counts) -> None:
    """Print the one JSON line the harness reads."""
    counts["elapsed_s"] = round(time.monotonic() - started, 3)
    sys.stdout.write(json.dumps(counts) + "\n")
    sys.stdout.flush()
