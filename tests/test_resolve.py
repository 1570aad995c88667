"""The intrinsic-function resolver used by validate's IAM checks and the tests."""

from __future__ import annotations

import pytest

from generator.resolve import Resolver, UnresolvableError, sample_resolver

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
