"""After a sagemaker apply (and on refresh): what each endpoint really serves, recorded in the
state, and an error when one does not serve the configuration applied."""

from __future__ import annotations

from mlinfra.engines import aws, endpoints
from mlinfra.operations.errors import OperationError
from mlinfra.operations.progress import Progress, ServingChecked, ServingUnchecked


def check_serving(spec, state, backend, applied, progress: Progress, since=None):
    """Describe each endpoint of `applied` ((address, name, configuration, alarms), see
    `engines.endpoints`); record in the state what really serves; the state. Raises, once
    the state is written, when an endpoint does not serve the configuration applied."""
    # botocore is deferred: only sagemaker environments with endpoints need it.
    from botocore.exceptions import BotoCoreError, ClientError

    if not applied:
        return state
    try:
        sagemaker, cloudwatch = aws.clients(spec.region, "sagemaker", "cloudwatch")
        checks = endpoints.check(sagemaker, cloudwatch, applied, since)
    except aws.NoCredentials as exc:
        progress(ServingUnchecked(str(exc)))
        return state
    except (BotoCoreError, ClientError) as exc:
        raise OperationError(
            f"could not check what the endpoints of {spec.env!r} serve: {exc}",
            f"check them with `mlinfra refresh --env {spec.env}` once AWS answers",
        ) from None
    updated = endpoints.recorded(state, checks)
    if updated.resources != state.resources:
        state = backend.write(updated)
    progress(ServingChecked(tuple(checks)))
    wrong = [c for c in checks if not c.ok and c.serving is not None]
    if wrong:
        raise OperationError(
            f"{len(wrong)} endpoint(s) of {spec.env!r} do not serve what was applied; the "
            "state records what they serve",
            f"fix the cause, then `mlinfra apply --env {spec.env}` again (it refreshes the "
            "stack first, so Pulumi makes the update again)",
        )
    return state
