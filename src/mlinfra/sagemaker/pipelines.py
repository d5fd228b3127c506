"""The condition types of a SageMaker pipeline definition (format `2020-12-01`), as SageMaker
parses them: the members of each besides `Type`.

A Not holds the condition it negates in `Condition`: `Expression`, which the SageMaker Python
SDK wrote until aws/sagemaker-python-sdk#4351, fails CreatePipeline with "Cannot parse object,
unknown property 'Expression'" (aws/sagemaker-python-sdk#2746). There is no And: a condition
step's Conditions all hold together, and inside an Or an `and` is written Not(Or(Not, Not)).
"""

from __future__ import annotations

COMPARISONS = ("Equals", "GreaterThan", "GreaterThanOrEqualTo", "LessThan", "LessThanOrEqualTo")
NEGATED = "Condition"  # the member of a Not that holds the condition it negates
CONDITION_MEMBERS: dict[str, frozenset[str]] = {
    "Not": frozenset({NEGATED}),
    "Or": frozenset({"Conditions"}),
    "In": frozenset({"QueryValue", "Values"}),
    **dict.fromkeys(COMPARISONS, frozenset({"LeftValue", "RightValue"})),
}
