"""What the operations' tests share (a helper module, not tests): the small local project
they apply, hooks that record what an operation tells and asks, and a spec validated."""

from __future__ import annotations

from pathlib import Path

from mlinfra.operations.progress import Question
from mlinfra.spec.validate import validate_file

CHURN = Path(__file__).resolve().parents[2] / "examples" / "churn"

SHOP = """\
version: 1
project: shop
environments:
  local:
    target: local{protect}
previews:
  base: local
  ttl: 24h
feature_stores:
  customers:
    record_identifier: customer_id
    event_time: event_time
    features: {{customer_id: string, event_time: string, spend: fractional}}
    online: {{enabled: true, ttl: 30d}}
models:
  scorer:
    registry_group: scorers
    framework: sklearn
    framework_version: "1.2-1"
    artifact: models/a/model.joblib
endpoints:
  scorer-api:
    model: scorer
    instance_type: ml.m5.large
"""


def shop_spec(protect: bool = False) -> str:
    return SHOP.format(protect="\n    protect: true" if protect else "")


class Recorder:
    """A progress hook that keeps every event, and a confirm hook that answers `answer`."""

    def __init__(self, answer: bool = True) -> None:
        self.events: list[object] = []
        self.questions: list[Question] = []
        self.answer = answer

    def __call__(self, event: object) -> None:
        self.events.append(event)

    def confirm(self, question: Question) -> bool:
        self.questions.append(question)
        return self.answer

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]

    def kinds(self) -> list[str]:
        return [type(e).__name__ for e in self.events]


def validated(spec_file: Path):
    found = validate_file(spec_file)
    assert found.ok, found.diagnostics
    return found
