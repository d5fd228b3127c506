"""The runtime helpers of rendered programs: the only functions an IR `Call` may name.

A `Call` is a value known only when the program runs (the model version to serve, the
account's id). Each helper is fixed source text, written into a program only when the
program uses it, with the private helpers and imports it needs; the registry lookup's text
is that of `render.runtime`, which mlinfra's plan runs too. The registry helpers read in the
stack's region (`aws:region`), and each lookup is made once per run, so the ARN and the
version of the model served always agree within one run.

The values of `MAY_BE_MISSING` may not exist yet (no version approved): what needs one is
declared only under `if serves(group, *endpoints):` (see `ir.waiting` for what needs it).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

from mlinfra.render import runtime


@dataclass(frozen=True)
class Helper:
    name: str
    source: str
    imports: tuple[str, ...] = ()  # modules, `import <name>`
    needs: tuple[str, ...] = ()  # other helpers (private ones start with `_`)


def _runtime_source(function) -> str:
    """The text of a function of `render.runtime`, as written there (and so as tested)."""
    return "\n" + inspect.getsource(function)


_ALL = [
    Helper(
        "_sagemaker",
        """
@functools.cache
def _sagemaker():
    # The stack's region, so lookups read the registry beside the resources being deployed.
    return boto3.client("sagemaker", region_name=pulumi.Config("aws").require("region"))
""",
        ("boto3", "functools"),
    ),
    Helper("is_missing", _runtime_source(runtime.is_missing)),
    Helper("error_text", _runtime_source(runtime.error_text)),
    Helper(
        "_served_package",
        _runtime_source(runtime._served_package),
        needs=("is_missing", "error_text"),
    ),
    Helper(
        "serving_version",
        _runtime_source(runtime.serving_version),
        needs=("_served_package", "is_missing", "error_text"),
    ),
    Helper(
        "_serving",
        '''
@functools.cache
def _serving(group, endpoints):
    """The version of `group` this run serves (see `serving_version`), looked up once per
    run, so a model's name and its ARN always agree. A version kept for lack of an approved
    one, or no version at all, is said in Pulumi's output."""
    found = serving_version(_sagemaker(), group, endpoints)
    if found["why"]:
        pulumi.log.warn(found["why"])
    return found
''',
        ("functools",),
        ("_sagemaker", "serving_version"),
    ),
    Helper(
        "serves",
        '''
def serves(group, *endpoints):
    """Whether there is a version of model package group `group` to serve: what needs one is
    declared only then, and waits otherwise (Pulumi creates it on a later run)."""
    return _serving(group, endpoints)["arn"] is not None
''',
        needs=("_serving",),
    ),
    Helper(
        "latest_approved_model_package",
        '''
def latest_approved_model_package(group, *endpoints):
    """The ARN of the version of `group` to serve: the newest approved one, else the one
    `endpoints` serve now (see `serving_version`).

    Read whenever the program runs, so approving a new version in the registry and applying
    again deploys it, without a change to the spec.
    """
    return _serving(group, endpoints)["arn"]
''',
        needs=("_serving",),
    ),
    Helper(
        "latest_approved_version",
        '''
def latest_approved_version(group, *endpoints):
    """The version number, as text, of the version of `group` to serve."""
    return _serving(group, endpoints)["version"]
''',
        needs=("_serving",),
    ),
    Helper(
        "model_versions",
        '''
def model_versions(*lookups):
    """What each registry lookup of this run found ([group, *endpoints] each): the stack
    output `mlinfra:model-versions`, from which `mlinfra apply` tells what waits and why."""
    return [
        {"group": group, "endpoints": endpoints, **_serving(group, tuple(endpoints))}
        for group, *endpoints in lookups
    ]
''',
        needs=("_serving",),
    ),
    Helper(
        "model_package_arn",
        '''
def model_package_arn(group, version):
    """The ARN of version `version` of the model package group `group`.

    A versioned model package is addressed by its ARN, not by `group/version`, so the
    version is found among the group's packages.
    """
    pages = _sagemaker().get_paginator("list_model_packages").paginate(
        ModelPackageGroupName=group, ModelPackageType="Versioned"
    )
    for page in pages:
        for package in page["ModelPackageSummaryList"]:
            if package.get("ModelPackageVersion") == int(version):
                return package["ModelPackageArn"]
    raise RuntimeError(f"model package group {group!r} has no version {version}")
''',
        needs=("_sagemaker",),
    ),
    Helper(
        "account_id",
        '''
@functools.cache
def account_id():
    """The id of the AWS account the program deploys into (the credentials' account)."""
    return boto3.client("sts").get_caller_identity()["Account"]
''',
        ("boto3", "functools"),
    ),
    Helper(
        "source_archive",
        '''
def source_archive(script):
    """A script-mode source archive (sourcedir.tar.gz) holding `script` at its top level,
    built when the program runs, reproducibly (fixed times, owners and modes), so the same
    script always makes the same archive and an unchanged script is no change.
    """
    data = pathlib.Path(script).read_bytes()
    member = tarfile.TarInfo(pathlib.PurePath(script).name)
    member.size, member.mode, member.mtime = len(data), 0o644, 0
    archive = io.BytesIO()
    with gzip.GzipFile(fileobj=archive, mode="wb", mtime=0) as packed:
        with tarfile.open(fileobj=packed, mode="w", format=tarfile.PAX_FORMAT) as tar:
            tar.addfile(member, io.BytesIO(data))
    digest = hashlib.sha256(archive.getvalue()).hexdigest()[:16]
    path = pathlib.Path("build", f"{digest}-sourcedir.tar.gz")
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(archive.getvalue())
    return str(path)
''',
        ("gzip", "hashlib", "io", "pathlib", "tarfile"),
    ),
]

# Calls whose value may not exist when the program runs, and the guard that tells.
MAY_BE_MISSING = frozenset({"latest_approved_model_package", "latest_approved_version"})
GUARD = "serves"
# The helper giving the stack output `mlinfra:model-versions`: every lookup's outcome.
LOOKUPS = "model_versions"
LOOKUPS_OUTPUT = "mlinfra:model-versions"

_BY_NAME = {helper.name: helper for helper in _ALL}
# What a `Call` may name: the public helpers.
CALLABLE = frozenset(name for name in _BY_NAME if not name.startswith("_"))
# Every name a program may define or import for its helpers.
NAMES = frozenset(_BY_NAME) | frozenset(m for h in _ALL for m in h.imports)


def source(name: str) -> str:
    return _BY_NAME[name].source.strip()


def closure(used: set[str]) -> tuple[list[str], set[str]]:
    """The helpers `used` needs, in a fixed order (private ones before their users, then by
    name), and the modules they import."""
    wanted: set[str] = set()

    def add(name: str) -> None:
        if name not in wanted:
            wanted.add(name)
            for need in _BY_NAME[name].needs:
                add(need)

    for name in used:
        add(name)
    ordered = [h.name for h in _ALL if h.name in wanted]  # _ALL lists needs first
    imports = {module for name in ordered for module in _BY_NAME[name].imports}
    return ordered, imports
