"""The model registry lookup of SageMaker programs: which registered version to serve.

These functions run in two places, from one source: `render.helpers` writes their text into
every rendered program that serves a `latest-approved` model (which runs them each time
`pulumi up` runs, with nothing of mlinfra installed), and `mlinfra plan` calls them to show
what that run will do. So they use nothing but the boto3 client they are given and
builtins, and they are written as a program's helpers are (no type hints, no imports).

Why the lookup happens in the program, when it runs, rather than in mlinfra before Pulumi
starts (passing the version as stack configuration): the registry can change between any
two runs, and `cd stacks/<env> && pulumi up` must do the right thing on its own, in an
empty account as after every version was rejected. A version passed as configuration
would be stale, or missing, whenever Pulumi runs without mlinfra.

What to serve, in order:
1. the newest approved version of the group (the request `mlinfra.sagemaker.registry.
   latest_approved` says, written out here; `tests/render/test_runtime.py` holds the two
   to one another);
2. without one (none approved yet, all rejected, or the registry cannot be read): the
   version an endpoint of the model serves now, so that an endpoint in service is never
   deleted or emptied for lack of an approved version (Pulumi deletes whatever a program
   stops declaring, so the program must go on declaring what serves);
3. else nothing: the model, and everything that needs it, wait (`mlinfra.ir.waiting`).
"""


def serving_version(client, group, endpoints):
    """The version of model package group `group` to serve, as {"arn", "version", "why"}.

    `endpoints` are the names of the endpoints serving the model. "why" is None for the
    newest approved version; it says why otherwise: which endpoint keeps which version, or
    (with "arn" and "version" None) why nothing can be served yet. An endpoint that exists
    but whose model cannot be read raises RuntimeError: nothing could then be declared
    without risking the endpoint, so the run stops before changing anything.
    """
    try:
        found = client.list_model_packages(
            ModelPackageGroupName=group,
            ModelApprovalStatus="Approved",
            ModelPackageType="Versioned",
            SortBy="CreationTime",
            SortOrder="Descending",
            MaxResults=1,
        )["ModelPackageSummaryList"]
        missing = f"model package group {group!r} has no approved version"
    except client.exceptions.ClientError as error:
        found = []
        if is_missing(error):  # not created yet: this run creates it
            missing = f"model package group {group!r} has no approved version (nor exists yet)"
        else:
            missing = f"model package group {group!r} could not be read ({error_text(error)})"
    if found:
        version = str(found[0]["ModelPackageVersion"])
        return {"arn": found[0]["ModelPackageArn"], "version": version, "why": None}
    for endpoint in endpoints:
        package = _served_package(client, endpoint, group)
        if package is not None:
            version = str(package["ModelPackageVersion"])
            why = (
                f"{missing}: endpoint {endpoint} keeps serving version {version}, the one it "
                "serves now"
            )
            return {"arn": package["ModelPackageArn"], "version": version, "why": why}
    # Where the wait ends on SageMaker (`mlinfra model approve` is the local emulator's).
    remedy = (
        "register one (the pipeline's register_model step) and approve it in the SageMaker "
        "model registry (aws sagemaker update-model-package --model-package-arn ARN "
        "--model-approval-status Approved), or pin `version:` in mlinfra.yaml"
    )
    return {"arn": None, "version": None, "why": f"{missing}: {remedy}"}


def _served_package(client, endpoint, group):
    """The registered version of `group` that endpoint `endpoint` serves now (its
    DescribeModelPackage answer), or None when the endpoint does not exist or serves none."""
    try:
        described = client.describe_endpoint(EndpointName=endpoint)
    except client.exceptions.ClientError as error:
        if is_missing(error):
            return None
        raise RuntimeError(
            f"cannot tell what endpoint {endpoint} serves ({error_text(error)}); stopped "
            "before changing anything, so it keeps serving"
        ) from None
    try:
        name = described["EndpointConfigName"]
        config = client.describe_endpoint_config(EndpointConfigName=name)
        for variant in config["ProductionVariants"]:
            model = client.describe_model(ModelName=variant["ModelName"])
            containers = [model.get("PrimaryContainer") or {}, *model.get("Containers", [])]
            for container in containers:
                if container.get("ModelPackageName"):
                    package = client.describe_model_package(
                        ModelPackageName=container["ModelPackageName"]
                    )
                    if package.get("ModelPackageGroupName") == group:
                        return package
    except client.exceptions.ClientError as error:
        raise RuntimeError(
            f"endpoint {endpoint} serves configuration {name}, "
            f"whose model cannot be read ({error_text(error)}); stopped before changing "
            "anything, so it keeps serving. Approve a version, or pin `version:` in mlinfra.yaml"
        ) from None
    return None


def is_missing(error):
    """Whether a ClientError says the resource does not exist: SageMaker answers a Describe
    of a missing endpoint, or a listing of a missing group's versions, with a
    ValidationException ("Could not find ...", "... does not exist")."""
    found = error.response.get("Error", {})
    message = str(found.get("Message", "")).lower()
    return found.get("Code") == "ResourceNotFound" or (
        found.get("Code") in ("ValidationException", "ValidationError")
        and ("could not find" in message or "does not exist" in message)
    )


def error_text(error):
    found = error.response.get("Error", {})
    return f"{found.get('Code', 'error')}: {found.get('Message', error)}"
