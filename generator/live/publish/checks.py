"""The read-only steps that come first: who calls, where the bucket is, which launch role the catalog uses.

Nothing is written before they pass, so a wrong account, region or missing role costs no clean-up.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from generator.live.publish.errors import PublishError, error_code
from generator.live.publish.state import UNCHANGED, Result, Run
from generator.naming import STANDARD_LAUNCH_ROLE


def identity(run: Run) -> Result:
    ident = run.clients.sts.get_caller_identity()
    run.account, run.caller = ident["Account"], ident["Arn"]
    run.partition = run.caller.split(":")[1]
    run.outputs["account"] = run.account
    return UNCHANGED, f"account {run.account} as {run.caller}"


def organization(run: Run) -> Result:
    """The product's read grants name one organisation (`aws:PrincipalOrgID`): it must be the caller's."""
    from generator.product.org_id import check_org_id

    try:
        actual = run.clients.organizations.describe_organization()["Organization"]["Id"]
    except ClientError as exc:
        if error_code(exc) != "AWSOrganizationsNotInUseException":
            raise
        raise PublishError(
            "organization",
            f"account {run.account} is not in an organisation",
            "publish from the organisation's management account (or a member of it): the product deploys to OUs",
        ) from None
    problem = check_org_id(run.plan.release.org_id, actual)
    if problem is not None:
        raise PublishError("organization", problem, f"mlops-gen render ... --org-id {actual} --force, then publish")
    run.outputs["organization_id"] = actual
    return UNCHANGED, f"organisation {actual}, as rendered"


def bucket(run: Run) -> Result:
    name, home = run.opts.bucket, run.plan.region
    location = run.clients.s3.get_bucket_location(Bucket=name).get("LocationConstraint")
    # Buckets in us-east-1 report no location; very old eu-west-1 buckets report "EU".
    region = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(location, location)
    if region != home:
        raise PublishError(
            "bucket",
            f"bucket {name} is in {region}, but the product is published in {home}",
            f"pass a bucket in {home} (and render with --seed-bucket set to it)",
        )
    return UNCHANGED, f"bucket {name} in {region}"


def launch_role(run: Run) -> Result:
    if run.opts.launch_role_arn:
        run.launch_role_arn = run.opts.launch_role_arn
        return UNCHANGED, f"{run.launch_role_arn} (--launch-role-arn, not checked)"
    name = run.plan.release.launch_role_name or STANDARD_LAUNCH_ROLE
    try:
        role = run.clients.iam.get_role(RoleName=name)["Role"]
    except ClientError as exc:
        if error_code(exc) != "NoSuchEntity":
            raise
        raise PublishError(
            "launch-role", f"role {name} does not exist in account {run.account}", _role_fix(run, name)
        ) from None
    run.launch_role_arn = role["Arn"]
    run.outputs["launch_role_arn"] = run.launch_role_arn
    return UNCHANGED, run.launch_role_arn


def _role_fix(run: Run, name: str) -> str:
    """How to create the missing role: the standard one comes with Studio, ours from the rendered template."""
    if run.plan.release.launch_role_template is None:
        return (
            "enable SageMaker project templates for your Studio domain (that creates the standard role), "
            "or pass --launch-role-arn"
        )
    template = run.opts.folder / run.plan.release.launch_role_template
    return (
        f"deploy {template} first: aws cloudformation deploy --template-file {template} --stack-name {name} "
        f"--capabilities CAPABILITY_NAMED_IAM --region {run.plan.region}"
    )
