"""Peer: the official Okta Python SDK (``okta`` on PyPI, 3.x).

Lists users, groups and every group's members with the SDK's list methods and its own paging
support: okta 3.x returns ``(items, response, error)`` and pages with ``after`` cursors read from
the ``Link`` header by ``okta.pagination.PaginationHelper`` (the 2.x ``resp.has_next()`` /
``resp.next()`` pattern is gone from 3.4's responses). Page sizes are
the largest each endpoint allows (200 users, 1000 groups and 1000 members per page, as the
connector uses), passed the way the SDK takes query parameters. Users are listed with
``filter=lastUpdated gt "1970-…"`` so that DEPROVISIONED users are included, as the connector
does. Rate limits are the SDK's own business (it retries 429s after ``X-Rate-Limit-Reset``).

Prints one JSON line: {"users", "groups", "memberships", "pages", "elapsed_s"}.
"""

import asyncio
import time

import simnet

EVERYONE_FILTER = 'lastUpdated gt "1970-01-01T00:00:00.000Z"'


async def main() -> None:
    args = simnet.arguments(__doc__.splitlines()[0])
    from okta.client import Client as OktaClient

    started = time.monotonic()
    config = {
        "orgUrl": f"https://{args.org}",
        # okta 3.4.6 builds the header as authorization_mode + token ("SSWS" + token, no space:
        # okta/configuration.py auth_settings), which an exact `SSWS <token>` check refuses;
        # the leading space restores the documented header.
        "token": " " + args.token,
        # The SDK's own retry of 429s; its default.
        "rateLimit": {"maxRetries": 2},
    }
    async with OktaClient(config) as client:  # one HTTP session for the whole run
        counts = await read_all(client)
    simnet.report(started, **counts)


async def pages(method, *args, **kwargs):
    """Every page of a list: the SDK's own cursor helper (``okta.pagination``) reads the next
    ``after`` from the ``Link`` header, as its ``paginate_pages`` does; unlike that helper, an
    error fails the run instead of ending the list early."""
    from okta.pagination import PaginationHelper

    after = None
    while True:
        data, resp, err = await method(*args, after=after, **kwargs)
        if err:
            raise RuntimeError(f"{method.__name__}{args}: {err}")
        yield data or []
        after = PaginationHelper.extract_next_cursor(resp.headers)
        if not after:
            return


async def read_all(client) -> dict:
    """Users, groups, and every group's members, each list paged to its end."""
    users = groups = memberships = n = 0
    async for page in pages(client.list_users, filter=EVERYONE_FILTER, limit=200):
        users += len(page)
        n += 1
    group_ids = []
    async for page in pages(client.list_groups, limit=1000):
        group_ids.extend(g.id for g in page)
        n += 1
    for gid in group_ids:
        async for page in pages(client.list_group_users, gid, limit=1000):
            memberships += len(page)
            n += 1
    groups = len(group_ids)
    return {"users": users, "groups": groups, "memberships": memberships, "pages": n}


if __name__ == "__main__":
    asyncio.run(main())
