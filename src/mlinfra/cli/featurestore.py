"""`mlinfra featurestore ingest`: load a feature store's CSV into the local emulator (the work is
`mlinfra.operations.feature_stores`'; here, what it shows)."""

from __future__ import annotations

import click

from mlinfra.cli.common import make_console, reports_errors, say, validate_spec
from mlinfra.cli.options import ENV_OPTION, SPEC_OPTION

STORE_NAMES = {"OnlineStore": "online", "OfflineStore": "offline"}


@click.group("featurestore")
def featurestore_command() -> None:
    """Work with the data of a spec's feature stores."""


@featurestore_command.command("ingest")
@click.argument("name")
@ENV_OPTION
@click.option(
    "--source",
    metavar="FILE",
    type=click.Path(path_type=str),
    help="The CSV to load.  [default: the feature store's `source:`, relative to the spec]",
)
@SPEC_OPTION
@reports_errors
def ingest_command(name: str, env: str, source: str | None, spec_file: str) -> None:
    """Load a CSV into feature store NAME of the local emulator.

    ENV must have `target: local`. The CSV's header names features; every row is checked
    against the feature group before any is written, so one invalid row means nothing is
    ingested. A record older than the stored one for its identifier does not replace it
    online. The emulator must be running beside the spec (`mlinfra emulator start`) and hold
    the feature group `<project>-<env>-NAME`. Exits 1 on any failure.
    """
    # Deferred: the operation loads the emulator's client; `mlinfra --version` must not.
    from mlinfra.operations.feature_stores import IngestRequest, ingest

    result = validate_spec(spec_file)
    done = ingest(IngestRequest(result, spec_file, env, name, source))
    answer = done.answer
    stores = ", ".join(STORE_NAMES.get(s, s) for s in answer.get("TargetStores", []))
    say(
        make_console(),
        f"ingested {answer.get('RecordCount', 0)} records into {done.group} ({stores}) "
        f"in {done.seconds * 1000:.0f} ms",
        "bold green",
    )
    held = answer.get("OfflineAlreadyHeld", 0)
    if held:
        say(
            make_console(),
            f"{held} of them were in the offline store already (same identifier, event time "
            "and values): not appended again",
            "dim",
        )
    expired = answer.get("ExpiredOnlineCount", 0)
    if expired:
        say(
            make_console(stderr=True),
            f"warning: for {expired} identifier(s), the latest record is older than the online "
            f"store's ttl ({done.ttl}): expired on arrival, so GetRecord does not return them "
            "(as in SageMaker); the offline store, which training reads, has every record. "
            "Newer event times, or a longer `online.ttl`, keep them online.",
            "yellow",
        )
