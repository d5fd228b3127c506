"""The audit and the compliance diff (`mlinfra audit`, `--diff`, `--against-env`).

The audit judges each environment's graph by the rules of its packs (`mlinfra.policy.engine`).
The compliance diff finds which two specs to compare, reads and compiles them, and has
`mlinfra.policy.diff` judge them.

Revisions are read from git: each revision's whole spec folder (the scripts, baselines and
artifacts lowering hashes) is extracted with `git archive` into a temporary folder, and
validated under the spec's own file name, so findings at both revisions point at the file
the user knows. Two environments are read from the working tree.
"""

from __future__ import annotations

import io
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from mlinfra.didyoumean import suggest
from mlinfra.git import GitError, GitMissing, Repository
from mlinfra.ir.graph import ResourceGraph
from mlinfra.ir.lower import UnsupportedTarget, lower
from mlinfra.operations.environment import environment, lower_environment
from mlinfra.operations.errors import OperationError
from mlinfra.operations.progress import NotAudited, Progress
from mlinfra.policy.diff.compare import combine, judge
from mlinfra.policy.diff.model import ComplianceDiff
from mlinfra.policy.engine import audit_environment, not_audited
from mlinfra.policy.errors import AuditError
from mlinfra.policy.model import Rule
from mlinfra.policy.result import AuditResult
from mlinfra.sagemaker.api import CatalogError
from mlinfra.spec.model import EnvSpec
from mlinfra.spec.validate import Validation, validate_file, validate_text

WORKING_TREE = "working tree"


@dataclass(frozen=True)
class AuditRequest:
    validation: object  # the valid spec (`spec.validate.Validation`)
    spec_file: str
    envs: tuple[str, ...] = ()  # none: every environment of the spec


def audit(request: AuditRequest, progress: Progress) -> tuple[AuditResult, ...]:
    """Each environment's audit; those not audited (local ones) are a `NotAudited` event."""
    validation, spec_file = request.validation, request.spec_file
    names = list(dict.fromkeys(request.envs)) if request.envs else list(validation.environments)
    specs = [environment(validation, name, spec_file) for name in names]
    results = []
    for spec in specs:
        skipped = not_audited(spec)
        if skipped:
            progress(NotAudited(skipped))
            continue
        graph = lower_environment(spec, spec_file)
        try:
            results.append(audit_environment(spec, graph, spec_file))
        except AuditError as exc:
            raise OperationError(str(exc)) from None
    return tuple(results)


@dataclass(frozen=True)
class DiffRequest:
    """The spec at git revision `base` against `head` (None: the working tree), in `env` (None:
    every environment both have); or, with `other`, environment `other` against `env`."""

    spec_file: str
    env: str | None = None
    base: str | None = None
    head: str | None = None
    other: str | None = None
    validation: object | None = None  # the working tree's, when the caller validated it
    rules: tuple[Rule, ...] | None = None  # None: the rules of each environment's packs
    today: date | None = None  # when waivers expire from; None: today


def compliance_diff(request: DiffRequest) -> ComplianceDiff:
    """What the change does to compliance: findings new and resolved, security-relevant
    changes."""
    spec_file = Path(request.spec_file)
    if request.other is not None:
        if request.validation is not None:
            for name in (request.env, request.other):
                environment(request.validation, name, request.spec_file)
        return compare_environments(
            spec_file, request.env, request.other, rules=request.rules, today=request.today
        )
    return compare_revisions(
        spec_file, request.base, request.head, request.env, rules=request.rules,
        today=request.today,
    )  # fmt: skip


@dataclass(frozen=True)
class Side:
    """One side of the comparison: the spec as validated, and where its files are."""

    label: str  # "main (3f2a1b0)", "working tree"
    validation: Validation
    spec_dir: Path  # where lowering reads the files the spec names


def compare_revisions(
    spec_file: Path,
    base: str,
    head: str | None,
    env: str | None,
    *,
    rules: tuple[Rule, ...] | None = None,
    today: date | None = None,
) -> ComplianceDiff:
    """The spec at git revision `base` against `head` (None: the working tree).

    With `env`, that environment; otherwise every environment both sides have (the others
    are named in the notes). Raises `OperationError` for a folder outside git, an unknown
    revision, a spec missing or invalid at a revision, or an environment missing.
    """
    spec_file = Path(spec_file)
    display = str(spec_file)
    with tempfile.TemporaryDirectory(prefix="mlinfra-diff-") as scratch:
        repository = _repository(spec_file)
        old = _checkout(repository, spec_file, base, Path(scratch) / "base")
        new = (
            _checkout(repository, spec_file, head, Path(scratch) / "head")
            if head
            else _working_tree(spec_file)
        )
        names, notes = _environments(display, old, new, env)
        judged = []
        for name in names:
            base_spec = old.validation.environments[name]
            head_spec = new.validation.environments[name]
            base_graph = _lower(base_spec, old)
            head_graph = _lower(head_spec, new)
            found = judge(
                (base_spec, base_graph), (head_spec, head_graph), display,
                rules=rules, today=today,
            )  # fmt: skip
            judged.append(found)
            notes += found.head_warnings
    return combine(old.label, new.label, tuple(names), judged, notes, display)


def _environments(display: str, old: Side, new: Side, env: str | None):
    """The environments to compare, and notes on those left out."""
    notes: list[str] = []
    if env is not None:
        for side in (old, new):
            if env not in side.validation.environments:
                known = ", ".join(side.validation.environments) or "none"
                raise OperationError(
                    f"{display} has no environment {env!r} at {side.label} (it has: {known})"
                )
        _require_audited(new.validation.environments[env])
        return [env], notes
    before, after = old.validation.environments, new.validation.environments
    names = [n for n in after if n in before]
    notes += [
        f"environment {n!r} added in {new.label}: not compared" for n in after if n not in before
    ]
    notes += [
        f"environment {n!r} removed in {new.label}: not compared" for n in before if n not in after
    ]
    skipped = [n for n in names if not_audited(after[n])]
    notes += [not_audited(after[n]) for n in skipped]
    names = [n for n in names if n not in skipped]
    if not names:
        raise OperationError(f"{display}: no environment is in both {old.label} and {new.label}")
    return names, notes


def compare_environments(
    spec_file: Path,
    env: str,
    other: str,
    *,
    rules: tuple[Rule, ...] | None = None,
    today: date | None = None,
) -> ComplianceDiff:
    """Environment `other` against `env` of the working-tree spec (`dev` → `prod`).

    Findings match on (rule, resource); the IRs are compared with each environment's account,
    region and names set aside, so only what the spec configures differently shows.
    """
    spec_file = Path(spec_file)
    side = _working_tree(spec_file)
    specs = side.validation.environments
    for name in (env, other):
        if name not in specs:
            close = suggest(name, sorted(specs))
            hint = f"; did you mean {close!r}?" if close else ""
            raise OperationError(
                f"{spec_file} has no environment {name!r} (it has: {', '.join(specs)}){hint}"
            )
    for name in (env, other):
        _require_audited(specs[name])
    if env == other:
        raise OperationError(f"compare environment {env!r} with another one, not with itself")
    display = str(spec_file)
    base = (specs[env], _lower(specs[env], side))
    head = (specs[other], _lower(specs[other], side))
    found = judge(base, head, display, across_environments=True, rules=rules, today=today)
    notes = found.base_warnings + found.head_warnings
    return combine(env, other, (env, other), [found], notes, display)


def _require_audited(spec: EnvSpec) -> None:
    why = not_audited(spec)
    if why is not None:
        raise OperationError(why)


# --- the spec at a revision ---------------------------------------------------------------------


def _working_tree(spec_file: Path) -> Side:
    validation = validate_file(spec_file)
    _require_valid(validation, f"{spec_file}", "in the working tree")
    return Side(WORKING_TREE, validation, spec_file.resolve().parent)


def _require_valid(validation: Validation, display: str, where: str) -> None:
    if validation.ok:
        return
    first = next(d for d in validation.diagnostics if d.is_error)
    line = f" (line {first.range.start.line})" if first.range else ""
    raise OperationError(f"{display} is invalid {where}{line}: {first.summary}")


def _lower(spec: EnvSpec, side: Side) -> ResourceGraph:
    try:
        return lower(spec, side.spec_dir)
    except (FileNotFoundError, CatalogError, UnsupportedTarget) as exc:
        raise OperationError(
            f"cannot compile environment {spec.env!r} at {side.label}: {exc}"
        ) from None


def _repository(spec_file: Path) -> Repository:
    """The git repository holding the spec."""
    folder = spec_file.absolute().parent
    if not folder.is_dir():
        raise OperationError(f"{folder} does not exist: cannot find the spec's git repository")
    try:
        repository = Repository.around(folder)
    except GitMissing:
        raise OperationError("git is not installed: comparing revisions needs it") from None
    except GitError as exc:
        raise OperationError(
            f"{folder} is not in a git repository: comparing revisions needs the spec "
            f"committed to git ({exc.detail or 'git rev-parse failed'})"
        ) from None
    try:
        repository.path_of(spec_file)
    except ValueError:
        raise OperationError(
            f"{spec_file} is outside the git repository at {repository.root}"
        ) from None
    return repository


def _checkout(repository: Repository, spec_file: Path, revision: str, into: Path) -> Side:
    """The spec's folder at `revision`, extracted under `into`, validated."""
    display = str(spec_file)
    spec_path = repository.path_of(spec_file)
    try:
        commit = repository.commit(revision)
    except GitError as exc:
        raise OperationError(str(exc)) from None
    label = revision if commit.startswith(revision.lower()) else f"{revision} ({commit[:7]})"
    if not repository.is_file_at(commit, spec_path):
        raise OperationError(f"{spec_path} does not exist at revision {revision}")
    folder = spec_path.parent
    try:
        archive = repository.archive(commit, folder)
    except GitError as exc:
        raise OperationError(f"cannot read {folder} at revision {revision}: {exc.detail}") from None
    into.mkdir(parents=True)
    try:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            # "data": no absolute paths, no links out of the folder, no device files.
            tar.extractall(into, filter="data")
    except tarfile.TarError as exc:
        raise OperationError(f"cannot extract {folder} at revision {revision}: {exc}") from None
    spec_dir = into / folder
    try:
        text = (into / spec_path).read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise OperationError(f"{display} is not UTF-8 text at revision {revision}") from None
    validation = validate_text(text, display, spec_dir)
    _require_valid(validation, display, f"at revision {revision}")
    return Side(label, validation, spec_dir)
