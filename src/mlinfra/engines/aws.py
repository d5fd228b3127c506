"""boto3 clients for what mlinfra itself asks of AWS around Pulumi: the model registry for a
plan, and each endpoint after an apply. They use the user's own credentials (as the Pulumi
program does) in the environment's region, and give up quickly when AWS cannot be reached,
so a plan made offline is only less informed, never stuck.
"""

from __future__ import annotations

from typing import Any


class NoCredentials(RuntimeError):
    pass


def clients(region: str, *services: str) -> tuple[Any, ...]:
    """A client of each service in `region`; NoCredentials when boto3 finds none."""
    import boto3
    from botocore.config import Config

    session = boto3.Session(region_name=region)
    if session.get_credentials() is None:
        raise NoCredentials("no AWS credentials found (environment, ~/.aws, or an instance role)")
    config = Config(connect_timeout=5, read_timeout=20, retries={"max_attempts": 3})
    return tuple(session.client(service, config=config) for service in services)
