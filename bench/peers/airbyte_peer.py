"""Peer: Airbyte's Okta source (``airbyte-source-okta`` on PyPI), streams users, groups and
group_members, full refresh, with an API token.

The source is run exactly as ``source-okta read --config … --catalog …`` runs it (its own
entry point, config migration and ``AirbyteEntrypoint``), in this process. Only two things
differ from a platform run: its base URL ``https://<domain>.okta.com`` resolves to the simulator
(``simnet``), and the messages it would print for a destination are written to /dev/null while
the records are counted per stream.

Prints one JSON line: {"users", "groups", "memberships", "messages", "elapsed_s"}.
"""

import json
import os
import time

import simnet


def main() -> None:
    args = simnet.arguments(__doc__.splitlines()[0])
    started = time.monotonic()

    from airbyte_cdk.entrypoint import AirbyteEntrypoint
    from source_okta.config_migration import OktaConfigMigration
    from source_okta.run import _get_source
    from source_okta.source import SourceOkta

    config_path = os.path.join(args.workdir, "config.json")
    catalog_path = os.path.join(args.workdir, "catalog.json")
    with open(config_path, "w") as f:
        json.dump(
            {
                "domain": args.org.split(".")[0],
                "credentials": {"auth_type": "api_token", "api_token": args.token},
                # Everything: the streams filter on lastUpdated from this date (default: 7 days ago).
                "start_date": "2000-01-01T00:00:00Z",
            },
            f,
        )
    streams = ["users", "groups", "group_members"]
    with open(catalog_path, "w") as f:
        json.dump(
            {
                "streams": [
                    {
                        "stream": {
                            "name": name,
                            "json_schema": {},
                            "supported_sync_modes": ["full_refresh"],
                        },
                        "sync_mode": "full_refresh",
                        "destination_sync_mode": "overwrite",
                    }
                    for name in streams
                ]
            },
            f,
        )

    argv = ["read", "--config", config_path, "--catalog", catalog_path]
    OktaConfigMigration.migrate(argv, SourceOkta)
    source = _get_source(argv)
    if source is None:
        raise SystemExit("source-okta could not be built from the config and catalog")
    entrypoint = AirbyteEntrypoint(source)
    parsed = entrypoint.parse_args(argv)

    counts = {name: 0 for name in streams}
    messages = 0
    errors = []
    marker = '"stream":"'
    with open(os.devnull, "w") as sink:
        for message in entrypoint.run(parsed):
            messages += 1
            sink.write(message)
            sink.write("\n")
            if message.startswith('{"type":"RECORD"'):
                at = message.find(marker)
                if at >= 0:
                    start = at + len(marker)
                    name = message[start : message.find('"', start)]
                    counts[name] = counts.get(name, 0) + 1
            elif message.startswith('{"type":"TRACE"') and '"ERROR"' in message:
                errors.append(message[:2000])
    if errors:
        raise SystemExit("source-okta reported errors:\n" + "\n".join(errors))

    simnet.report(
        started,
        users=counts["users"],
        groups=counts["groups"],
        memberships=counts["group_members"],
        messages=messages,
    )


if __name__ == "__main__":
    main()
