"""Comparing two audits: the spec at two git revisions, or two environments of it.

Revisions are read from git: each revision's whole spec folder (the scripts, baselines and
artifacts lowering hashes) is extracted with `git archive` into a temporary folder, and
validated under the spec's own file name, so findings at both revisions point at the file the
user knows.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path, PurePosixPath

from mlinfra.didyoumean import suggest
from mlinfra.ir.graph import ResourceGraph
from mlinfra.ir.lower import UnsupportedTarget, lower
from mlinfra.policy.diff.model import DIRECTION_ORDER, Change, ComplianceDiff
from mlinfra.policy.diff.security import security_changes
from mlinfra.policy.engine import audit_environment, not_audited
from mlinfra.policy.errors import AuditError
from mlinfra.policy.model import Finding, Rule
from mlinfra.policy.reports import markdown as md
from mlinfra.policy.result import AuditResult
from mlinfra.spec.catalog import CatalogError
from mlinfra.spec.model import EnvSpec
from mlinfra.spec.validate import Validation, validate_file, validate_text

WORKING_TREE = "working tree"


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
    are named in the notes). Raises `AuditError` for a folder outside git, an unknown
    revision, a spec missing or invalid at a revision, or an environment missing.
    """
    spec_file = Path(spec_file)
    display = str(spec_file)
    with tempfile.TemporaryDirectory(prefix="mlinfra-diff-") as scratch:
        repo = _Repository.around(spec_file)
        old = repo.checkout(base, Path(scratch) / "base", display)
        new = (
            repo.checkout(head, Path(scratch) / "head", display)
            if head
            else _working_tree(spec_file)
        )

        notes: list[str] = []
        if env is not None:
            for side in (old, new):
                if env not in side.validation.environments:
                    known = ", ".join(side.validation.environments) or "none"
                    raise AuditError(
                        f"{display} has no environment {env!r} at {side.label} (it has: {known})"
                    )
            _require_audited(new.validation.environments[env])
            names = [env]
        else:
            before, after = old.validation.environments, new.validation.environments
            names = [n for n in after if n in before]
            notes += [
                f"environment {n!r} added in {new.label}: not compared"
                for n in after
                if n not in before
            ]
            notes += [
                f"environment {n!r} removed in {new.label}: not compared"
                for n in before
                if n not in after
            ]
            skipped = [n for n in names if not_audited(new.validation.environments[n])]
            notes += [not_audited(new.validation.environments[n]) for n in skipped]
            names = [n for n in names if n not in skipped]
            if not names:
                raise AuditError(
                    f"{display}: no environment is in both {old.label} and {new.label}"
                )

        found_new: list[Finding] = []
        found_resolved: list[Finding] = []
        unchanged = 0
        changes: list[Change] = []
        for name in names:
            base_spec = old.validation.environments[name]
            head_spec = new.validation.environments[name]
            base_graph = _lower(base_spec, old)
            head_graph = _lower(head_spec, new)
            base_result = _audit(base_spec, base_graph, display, rules, today)
            head_result = _audit(head_spec, head_graph, display, rules, today)
            added, gone, same = _compare_findings(base_result, head_result, Finding.key)
            found_new += added
            found_resolved += gone
            unchanged += same
            changes += security_changes(base_graph, head_graph)
            notes += [f"{name}: {w}" for w in head_result.warnings]
    return ComplianceDiff(
        base_label=old.label,
        head_label=new.label,
        environments=tuple(names),
        new=tuple(md.ordered(found_new)),
        resolved=tuple(md.ordered(found_resolved)),
        unchanged=unchanged,
        # Weakenings first across every environment: what a reviewer must read.
        changes=tuple(sorted(changes, key=lambda c: (DIRECTION_ORDER[c.direction], c.environment))),
        notes=tuple(dict.fromkeys(notes)),
        spec_file=display,
    )


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
            raise AuditError(
                f"{spec_file} has no environment {name!r} (it has: {', '.join(specs)}){hint}"
            )
    for name in (env, other):
        _require_audited(specs[name])
    if env == other:
        raise AuditError(f"compare environment {env!r} with another one, not with itself")
    display = str(spec_file)
    base_graph, head_graph = _lower(specs[env], side), _lower(specs[other], side)
    base_result = _audit(specs[env], base_graph, display, rules, today)
    head_result = _audit(specs[other], head_graph, display, rules, today)
    added, gone, same = _compare_findings(
        base_result, head_result, lambda f: (f.rule.id, f.address)
    )
    notes = [f"{r.environment}: {w}" for r in (base_result, head_result) for w in r.warnings]
    return ComplianceDiff(
        base_label=env,
        head_label=other,
        environments=(env, other),
        new=tuple(md.ordered(added)),
        resolved=tuple(md.ordered(gone)),
        unchanged=same,
        changes=security_changes(base_graph, head_graph, normalize=True),
        notes=tuple(dict.fromkeys(notes)),
        spec_file=display,
    )


def _require_audited(spec: EnvSpec) -> None:
    why = not_audited(spec)
    if why is not None:
        raise AuditError(why)


def _compare_findings(
    base: AuditResult, head: AuditResult, key: Callable[[Finding], tuple]
) -> tuple[list[Finding], list[Finding], int]:
    before = {key(f): f for f in base.active()}
    after = {key(f): f for f in head.active()}
    added = [f for k, f in after.items() if k not in before]
    gone = [f for k, f in before.items() if k not in after]
    return added, gone, len(after.keys() & before.keys())


def _audit(spec: EnvSpec, graph: ResourceGraph, spec_file: str, rules, today) -> AuditResult:
    return audit_environment(spec, graph, spec_file, today=today, rules=rules)


# --- the spec at a revision ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Side:
    label: str
    validation: Validation
    spec_dir: Path  # where lowering reads the files the spec names


def _working_tree(spec_file: Path) -> _Side:
    validation = validate_file(spec_file)
    _require_valid(validation, f"{spec_file}", "in the working tree")
    return _Side(WORKING_TREE, validation, spec_file.resolve().parent)


def _require_valid(validation: Validation, display: str, where: str) -> None:
    if validation.ok:
        return
    first = next(d for d in validation.diagnostics if d.is_error)
    line = f" (line {first.range.start.line})" if first.range else ""
    raise AuditError(f"{display} is invalid {where}{line}: {first.summary}")


def _lower(spec: EnvSpec, side: _Side) -> ResourceGraph:
    try:
        return lower(spec, side.spec_dir)
    except (FileNotFoundError, CatalogError, UnsupportedTarget) as exc:
        raise AuditError(
            f"cannot compile environment {spec.env!r} at {side.label}: {exc}"
        ) from None


@dataclass(frozen=True)
class _Repository:
    """The git repository holding a spec: its root and the spec's path inside it."""

    root: Path
    spec_path: PurePosixPath  # relative to the root: "examples/churn/mlinfra.yaml"

    @classmethod
    def around(cls, spec_file: Path) -> _Repository:
        folder = spec_file.absolute().parent
        if not folder.is_dir():
            raise AuditError(f"{folder} does not exist: cannot find the spec's git repository")
        found = _git(["rev-parse", "--show-toplevel"], folder)
        if found.returncode != 0:
            why = found.stderr.decode(errors="replace").strip().splitlines()
            raise AuditError(
                f"{folder} is not in a git repository: comparing revisions needs the spec "
                f"committed to git ({why[0] if why else 'git rev-parse failed'})"
            )
        root = Path(found.stdout.decode().strip()).resolve()
        try:
            inside = spec_file.resolve().relative_to(root)
        except ValueError:
            raise AuditError(f"{spec_file} is outside the git repository at {root}") from None
        return cls(root, PurePosixPath(inside.as_posix()))

    def checkout(self, revision: str, into: Path, display: str) -> _Side:
        """The spec's folder at `revision`, extracted under `into`, validated."""
        commit = self._commit(revision)
        label = revision if commit.startswith(revision.lower()) else f"{revision} ({commit[:7]})"
        kind = _git(["cat-file", "-t", f"{commit}:{self.spec_path}"], self.root)
        if kind.returncode != 0 or kind.stdout.decode().strip() != "blob":
            raise AuditError(f"{self.spec_path} does not exist at revision {revision}")
        folder = self.spec_path.parent
        # Run at the root: `git archive` run from a subfolder archives only that subfolder.
        pathspec = [] if str(folder) == "." else ["--", str(folder)]
        archive = _git(["archive", "--format=tar", commit, *pathspec], self.root)
        if archive.returncode != 0:
            raise AuditError(
                f"cannot read {folder} at revision {revision}: {archive.stderr.decode().strip()}"
            )
        into.mkdir(parents=True)
        try:
            with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
                # "data": no absolute paths, no links out of the folder, no device files.
                tar.extractall(into, filter="data")
        except tarfile.TarError as exc:
            raise AuditError(f"cannot extract {folder} at revision {revision}: {exc}") from None
        spec_dir = into / folder
        try:
            text = (into / self.spec_path).read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            raise AuditError(f"{display} is not UTF-8 text at revision {revision}") from None
        validation = validate_text(text, display, spec_dir)
        _require_valid(validation, display, f"at revision {revision}")
        return _Side(label, validation, spec_dir)

    def _commit(self, revision: str) -> str:
        # A revision starting with "-" would be read as an option.
        if not revision or revision.startswith("-"):
            raise AuditError(f"{revision!r} is not a git revision")
        found = _git(["rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"], self.root)
        if found.returncode != 0:
            raise AuditError(
                f"unknown git revision {revision!r} in {self.root}",
            )
        return found.stdout.decode().strip()


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    try:
        # An argument list, never a shell: revisions and paths are the user's text.
        return subprocess.run(  # noqa: S603
            ["git", *args],  # noqa: S607 - git from PATH, as the user runs it
            cwd=cwd,
            capture_output=True,
            check=False,
            timeout=120,
        )
    except FileNotFoundError:
        raise AuditError("git is not installed: comparing revisions needs it") from None
    except subprocess.TimeoutExpired:
        raise AuditError(f"git {args[0]} took longer than 120 s in {cwd}") from None
