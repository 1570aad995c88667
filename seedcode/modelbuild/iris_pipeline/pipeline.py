"""The iris SageMaker Pipeline (SDK v3): preprocess -> train -> evaluate -> register.

Trains the built-in XGBoost algorithm (no training code to maintain), measures accuracy on a
held-out split and registers the model, with that accuracy attached, into the project's model
package group. Approving the package there is what starts the multi-account deployment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sagemaker.core import image_uris
from sagemaker.core.model_metrics import MetricsSource, ModelMetrics
from sagemaker.core.processing import ScriptProcessor
from sagemaker.core.shapes import ProcessingInput, ProcessingOutput, ProcessingS3Input, ProcessingS3Output
from sagemaker.core.training.configs import Compute, InputData, OutputDataConfig, StoppingCondition
from sagemaker.core.workflow.execution_variables import ExecutionVariables
from sagemaker.core.workflow.functions import Join
from sagemaker.core.workflow.parameters import ParameterInteger, ParameterString
from sagemaker.core.workflow.pipeline_context import PipelineSession
from sagemaker.mlops.workflow import ModelStep, Pipeline, ProcessingStep, TrainingStep
from sagemaker.serve.model_builder import ModelBuilder
from sagemaker.train.model_trainer import ModelTrainer

from iris_pipeline.project import (
    INPUT_DATA,
    MODEL_APPROVAL_STATUS,
    MODEL_ARTIFACTS_PREFIX,
    PENDING,
    TRAINING_INSTANCE_COUNT,
    TRAINING_INSTANCE_TYPE,
    model_package_group_name,
    pipeline_name,
)

SCRIPTS = Path(__file__).parent / "scripts"
XGBOOST_VERSION = "1.7-1"
PROCESSING_INSTANCE_TYPE = "ml.m5.xlarge"
#: Built-in XGBoost hyperparameters: three iris species, class probabilities out.
HYPERPARAMETERS = {"objective": "multi:softprob", "num_class": "3", "num_round": "50", "max_depth": "3", "eta": "0.3"}

# Step names, as Studio shows them.
STEP_PREPROCESS = "PreprocessIrisData"
STEP_TRAIN = "TrainIrisModel"
STEP_EVALUATE = "EvaluateIrisModel"
STEP_REGISTER = "RegisterIrisModel"


def _s3_prefix(bucket: str, name: str, *parts: str) -> Join:
    """s3://bucket/<name>/<execution id>/<parts>: each run keeps its own outputs."""
    return Join(on="/", values=["s3:/", bucket, name, ExecutionVariables.PIPELINE_EXECUTION_ID, *parts])


def _kept(name: str) -> str:
    """`models/<pipeline>`: what a registered version needs, under the prefix that never expires."""
    return f"{MODEL_ARTIFACTS_PREFIX}{name}"


def _processing_input(name: str, source: Any, destination: str) -> ProcessingInput:
    s3_input = ProcessingS3Input(s3_uri=source, local_path=destination, s3_data_type="S3Prefix", s3_input_mode="File")
    return ProcessingInput(input_name=name, s3_input=s3_input)


def _processing_output(name: str, bucket: str, folder: str) -> ProcessingOutput:
    s3_output = ProcessingS3Output(
        s3_uri=_s3_prefix(bucket, folder, name), local_path=f"/opt/ml/processing/{name}", s3_upload_mode="EndOfJob"
    )
    return ProcessingOutput(output_name=name, s3_output=s3_output)


def get_pipeline(
    project_name: str, bucket: str, role_arn: str, region: str, session: PipelineSession | None = None
) -> Pipeline:
    """The pipeline definition; nothing is created until `upsert()`.

    `bucket` holds the pipeline's code and outputs (the project's artifact bucket);
    `role_arn` is the role the jobs run as.
    """
    session = session or PipelineSession(default_bucket=bucket)
    name = pipeline_name(project_name)
    image = image_uris.retrieve("xgboost", region, XGBOOST_VERSION)

    instance_type = ParameterString(name=TRAINING_INSTANCE_TYPE, default_value="ml.m5.xlarge")
    instance_count = ParameterInteger(name=TRAINING_INSTANCE_COUNT, default_value=1)
    input_data = ParameterString(name=INPUT_DATA, default_value=f"s3://{bucket}/iris/input/iris.csv")
    approval_status = ParameterString(name=MODEL_APPROVAL_STATUS, default_value=PENDING)

    processor = ScriptProcessor(
        role=role_arn,
        image_uri=image,
        command=["python3"],
        instance_type=PROCESSING_INSTANCE_TYPE,
        instance_count=1,
        base_job_name=f"{name}-process",
        sagemaker_session=session,
    )
    preprocess = ProcessingStep(
        name=STEP_PREPROCESS,
        step_args=processor.run(
            code=str(SCRIPTS / "preprocess.py"),
            inputs=[_processing_input("input", input_data, "/opt/ml/processing/input")],
            outputs=[_processing_output(split, bucket, name) for split in ("train", "test")],
        ),
    )
    split_outputs = preprocess.properties.ProcessingOutputConfig.Outputs

    trainer = ModelTrainer(
        training_image=image,
        hyperparameters=HYPERPARAMETERS,
        compute=Compute(instance_type=instance_type, instance_count=instance_count),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=3600),
        # The registered version's ModelDataUrl: kept for as long as the version can be deployed.
        output_data_config=OutputDataConfig(s3_output_path=f"s3://{bucket}/{_kept(name)}"),
        base_job_name=f"{name}-train",
        role=role_arn,
        sagemaker_session=session,
    )
    train = TrainingStep(
        name=STEP_TRAIN,
        step_args=trainer.train(
            input_data_config=[
                InputData(
                    channel_name="train", data_source=split_outputs["train"].S3Output.S3Uri, content_type="text/csv"
                )
            ]
        ),
    )
    model_data = train.properties.ModelArtifacts.S3ModelArtifacts

    evaluate = ProcessingStep(
        name=STEP_EVALUATE,
        step_args=processor.run(
            code=str(SCRIPTS / "evaluate.py"),
            inputs=[
                _processing_input("model", model_data, "/opt/ml/processing/model"),
                _processing_input("test", split_outputs["test"].S3Output.S3Uri, "/opt/ml/processing/test"),
            ],
            # The registered version's model metrics point here: kept with the model.
            outputs=[_processing_output("evaluation", bucket, _kept(name))],
        ),
    )
    report_uri = Join(
        on="/",
        values=[evaluate.properties.ProcessingOutputConfig.Outputs["evaluation"].S3Output.S3Uri, "evaluation.json"],
    )

    builder = ModelBuilder(s3_model_data_url=model_data, image_uri=image, role_arn=role_arn, sagemaker_session=session)
    register = ModelStep(
        name=STEP_REGISTER,
        step_args=builder.register(
            model_package_group_name=model_package_group_name(project_name),
            content_types=["text/csv"],
            response_types=["text/csv"],
            inference_instances=["ml.m5.large", "ml.m5.xlarge"],
            transform_instances=["ml.m5.xlarge"],
            approval_status=approval_status,
            model_metrics=ModelMetrics(
                model_statistics=MetricsSource(content_type="application/json", s3_uri=report_uri)
            ),
            description=f"Iris XGBoost model of project {project_name}",
        ),
    )
    return Pipeline(
        name=name,
        parameters=[instance_type, instance_count, input_data, approval_status],
        steps=[preprocess, train, evaluate, register],
        sagemaker_session=session,
    )
