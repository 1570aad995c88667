"""A second project in the same rehearsal, trying to reach the first one (`rehearse --second-project`).

With `--service-roles project` every project runs as its own roles (generator/product/project_roles.py) and names
itself to the stage accounts' shared target role by a session tag (generator/companions/target_role.py). This launches
the product a second time (another project name and id, as Studio would) after the first project reached
prod, then makes, as the second project's roles and over the wire (so the call-time authorizer decides each
with the rendered policies, boundary, trust and resource policies), the calls a compromised or careless
second project could try against the first: deploy its stack sets, read its artifacts, assume the target
role claiming its project id, call its staging endpoint, reach a prod account. Every one must be refused; the
second project's own, legitimate assume (its own id, a staging account) must work, so the refusals are not
the authorizer refusing everything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

from generator.contract import PROJECT_SESSION_TAG
from generator.live.rehearse.launch import Project, launch, launch_parameters, stage_of_stack_sets
from generator.live.rehearse.report import StepFailed
from generator.live.rehearse.server import MANAGEMENT_ACCOUNT
from generator.naming import PROJECT_ROLE_PATH, Stage
from generator.product.project_roles import LOGICAL_IDS

SECOND_PROJECT_NAME = "fraud-02"
SECOND_PROJECT_ID = "p-zyxwvutsrqpo"
SECOND_STACK_NAME = f"SC-{MANAGEMENT_ACCOUNT}-pp-rehearsal0002"


@dataclass(frozen=True)
class Attempt:
    """One call the second project made, what it had to be and what it was."""

    role: str
    call: str
    resource: str
    expected: str  # "denied" | "allowed"
    outcome: str  # "denied" | "allowed" | "error: ..."

    @property
    def as_expected(self) -> bool:
        return self.outcome == self.expected


def _outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    """("allowed", result) or ("denied", None) for AccessDenied (403); any other AWS error is allowed (authorization
    passed; the local AWS answered something else, e.g. no such object)."""
    from botocore.exceptions import ClientError

    try:
        return "allowed", call()
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        # The local server answers a denial in one protocol for every service: the code, or only the 403 status.
        if code in ("AccessDenied", "AccessDeniedException") or status == 403:
            return "denied", None
        return "allowed", None


def role_arn(project: Project, kind: str) -> str:
    """The ARN of one of a launched project's own roles."""
    return (
        f"arn:aws:iam::{MANAGEMENT_ACCOUNT}:role{PROJECT_ROLE_PATH}{project.resolver.physical_name(LOGICAL_IDS[kind])}"
    )


def try_to_reach(world: Any, first: Project) -> list[Attempt]:
    """Launch the second project and make its calls against the first; the attempts, in order."""
    aws, rendered, org = world.aws, world.rendered, world.org
    parameters = launch_parameters(rendered.product, org, SECOND_PROJECT_NAME, SECOND_PROJECT_ID)
    second, _ = launch(aws, rendered.product, parameters, rendered.seed_bundle, stack_name=SECOND_STACK_NAME)
    if not all(logical in second.created for logical in LOGICAL_IDS.values()):
        raise StepFailed(
            "--second-project needs --service-roles project (a render whose projects have their own roles)"
        )

    def client(kind: str, service: str, region: str | None = None) -> Any:
        credentials = world.roles.credentials(role_arn(second, kind), f"second project's {kind} role")
        return aws.client(service, aws.session(credentials), region)

    attempts: list[Attempt] = []

    def attempt(kind: str, call: str, resource: str, expected: str, make: Callable[[], Any]) -> Any:
        outcome, result = _outcome(make)
        attempts.append(Attempt(role_arn(second, kind).rsplit("/", 1)[-1], call, resource, expected, outcome))
        return result

    stack_set = staging_stack_set(first)
    cfn = client("pipeline", "cloudformation")
    attempt(
        "pipeline",
        "cloudformation:UpdateStackSet",
        stack_set,
        "denied",
        lambda: cfn.update_stack_set(StackSetName=stack_set, UsePreviousTemplate=True),
    )
    attempt(
        "pipeline",
        "cloudformation:CreateStackInstances",
        stack_set,
        "denied",
        lambda: cfn.create_stack_instances(
            StackSetName=stack_set,
            DeploymentTargets={"OrganizationalUnitIds": [org.ou[Stage.STAGING]]},
            Regions=[aws.region],
        ),
    )
    bucket = first.outputs()["ArtifactBucketName"]
    s3 = client("build", "s3")
    attempt(
        "build",
        "s3:GetObject",
        f"{bucket}/models/",
        "denied",
        lambda: s3.get_object(Bucket=bucket, Key="models/model.tar.gz"),
    )

    staging = sorted(org.accounts[Stage.STAGING])[0]
    prod = sorted(org.accounts[Stage.PROD])[0]
    target = world.authorizer.target_role
    sts = client("test", "sts")

    def assume(account: str, stem: str | None) -> Any:
        arn = f"arn:aws:iam::{account}:role/{target}"
        tags = [] if stem is None else [{"Key": PROJECT_SESSION_TAG, "Value": stem}]
        # One session name per attempt: the rehearsal keeps session tags by role and session name.
        name = f"{SECOND_PROJECT_ID}-{account}-{stem or 'untagged'}"[:64]
        return lambda: sts.assume_role(RoleArn=arn, RoleSessionName=name, Tags=tags)

    first_stem = f"{first.parameters['SageMakerProjectName']}-{first.parameters['SageMakerProjectId']}"
    own_stem = f"{SECOND_PROJECT_NAME}-{SECOND_PROJECT_ID}"
    claimed = attempt(
        "test",
        "sts:AssumeRole+TagSession (the first project's id)",
        f"{staging}:{target}",
        "denied",
        assume(staging, first_stem),
    )
    attempt("test", "sts:AssumeRole (no project tag)", f"{staging}:{target}", "denied", assume(staging, None))
    attempt(
        "test",
        "sts:AssumeRole+TagSession (own id, a prod account)",
        f"{prod}:{target}",
        "denied",
        assume(prod, own_stem),
    )
    own = attempt(
        "test",
        "sts:AssumeRole+TagSession (own id, a staging account)",
        f"{staging}:{target}",
        "allowed",
        assume(staging, own_stem),
    )
    endpoint = staging_endpoint(first)
    for how, assumed in (("own id", own), ("claiming the first project's id", claimed)):
        if assumed is None:
            continue  # refused above (as it must be for a claim)
        session = aws.session(assumed["Credentials"])
        sm, runtime = aws.client("sagemaker", session), aws.client("sagemaker-runtime", session)
        attempt(
            "test",
            f"sagemaker:DescribeEndpoint (the first project's, as the target role, {how})",
            endpoint,
            "denied",
            partial(sm.describe_endpoint, EndpointName=endpoint),
        )
        attempt(
            "test",
            f"sagemaker:InvokeEndpoint (the first project's, as the target role, {how})",
            endpoint,
            "denied",
            partial(runtime.invoke_endpoint, EndpointName=endpoint, ContentType="text/csv", Body=b"5.1,3.5,1.4,0.2"),
        )
    return attempts


def staging_stack_set(project: Project) -> str:
    """The stack set the project's pipeline deploys to staging (read from its rendered pipeline)."""
    return next(name for name, stages in sorted(stage_of_stack_sets(project).items()) if Stage.STAGING in stages)


def staging_endpoint(project: Project) -> str:
    """The staging endpoint's name, as the project's test reads it (its CodeBuild environment)."""
    from generator.contract import Env

    for logical in project.resources("AWS::CodeBuild::Project"):
        environment = project.template["Resources"][logical]["Properties"].get("Environment", {})
        for variable in environment.get("EnvironmentVariables", []):
            if variable["Name"] == Env.endpoint(Stage.STAGING):
                return str(project.resolver.resolve(variable["Value"]))
    raise StepFailed("the product has no staging test environment naming the endpoint")


def summary(attempts: list[Attempt]) -> list[dict[str, Any]]:
    return [asdict(a) | {"as_expected": a.as_expected} for a in attempts]
