"""The runtime helpers of rendered programs: the only functions an IR `Call` may name.

A `Call` is a value known only when the program runs (the latest approved model version,
the account's id). Each helper is fixed source text, written into a program only when the
program uses it, with the private helpers and imports it needs. The registry helpers read in
the stack's region (`aws:region`), and each lookup is made once per run, so the ARN and the
version of "the latest approved model" always agree within one run.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Helper:
    name: str
    source: str
    imports: tuple[str, ...] = ()  # modules, `import <name>`
    needs: tuple[str, ...] = ()  # other helpers (private ones start with `_`)


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
    Helper(
        "_latest_approved",
        '''
@functools.cache
def _latest_approved(group):
    """The newest approved version in the model package group `group` (looked up once per
    run, so its ARN and its version number agree)."""
    found = _sagemaker().list_model_packages(
        ModelPackageGroupName=group,
        ModelApprovalStatus="Approved",
        ModelPackageType="Versioned",
        SortBy="CreationTime",
        SortOrder="Descending",
        MaxResults=1,
    )["ModelPackageSummaryList"]
    if not found:
        raise RuntimeError(
            f"model package group {group!r} has no approved version: approve one in the "
            "SageMaker model registry, or pin a version in mlinfra.yaml"
        )
    return found[0]
''',
        ("functools",),
        ("_sagemaker",),
    ),
    Helper(
        "latest_approved_model_package",
        '''
def latest_approved_model_package(group):
    """The ARN of the newest approved version in the model package group `group`.

    Read whenever the program runs, so approving a new version in the registry and applying
    again deploys it, without a change to the spec.
    """
    return _latest_approved(group)["ModelPackageArn"]
''',
        needs=("_latest_approved",),
    ),
    Helper(
        "latest_approved_version",
        '''
def latest_approved_version(group):
    """The version number, as text, of the newest approved version in `group`."""
    return str(_latest_approved(group)["ModelPackageVersion"])
''',
        needs=("_latest_approved",),
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
