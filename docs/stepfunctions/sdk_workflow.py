"""The state machine of fmprep-fm.asl.json, built with the AWS Step Functions Data Science SDK.

    pip install stepfunctions "sagemaker<3"     # stepfunctions 2.3 uses sagemaker.workflow.airflow
    AWS_DEFAULT_REGION=us-east-1 python docs/stepfunctions/sdk_workflow.py \
        --write docs/stepfunctions/fmprep-fm.sdk.asl.json   # the definition, no AWS call
    python docs/stepfunctions/sdk_workflow.py --create      # creates the state machine

fmprep-fm.sdk.asl.json is this script's output (stepfunctions 2.3.0, sagemaker 2.257.7), committed
so that tests/it/container.rs runs its data flow as it runs fmprep-fm.asl.json's.

Four states: a ProcessingStep that runs the fmprep image, a Task that reads fmprep's
manifest.json with the S3 GetObject SDK integration, a Pass state that parses it (stepfunctions
2.3 has no ResultSelector, which fmprep-fm.asl.json uses instead), and a TrainingStep whose
feature_dim and predictor_type come from that manifest. The run-dependent strings (job names, S3 locations) are
built in the state machine with States.Format from the execution input {"run_id", "bucket"},
exactly as in the JSON definition, so one state machine serves every run.
"""

from __future__ import annotations

import sys

from sagemaker.estimator import Estimator
from sagemaker.processing import ProcessingInput, ProcessingOutput, Processor
from stepfunctions.steps import Chain, Pass, ProcessingStep, Task, TrainingStep
from stepfunctions.workflow import Workflow

# --- settings to adapt ---------------------------------------------------------------------
REGION = "us-east-1"
ROLE_ARN = "arn:aws:iam::123456789012:role/FmprepSageMakerExecutionRole"
WORKFLOW_ROLE_ARN = "arn:aws:iam::123456789012:role/FmprepStepFunctionsRole"
FMPREP_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/fmprep:0.1.0"
FM_IMAGE = "382416733822.dkr.ecr.us-east-1.amazonaws.com/factorization-machines:1"
REVIEWS_FILE = "amazon_reviews_us_Digital_Video_Download_v1_00.tsv.gz"
REVIEWS_URI = f"s3://my-data-bucket/amazon_reviews/{REVIEWS_FILE}"

INPUT_DIR = "/opt/ml/processing/input/reviews"
OUTPUT_DIR = "/opt/ml/processing/output"


def run_uri(path: str) -> str:
    """A States.Format expression for s3://<bucket>/fmprep/<run_id>/<path>."""
    return f"States.Format('s3://{{}}/fmprep/{{}}/{path}', $.bucket, $.run_id)"


processor = Processor(
    role=ROLE_ARN,
    image_uri=FMPREP_IMAGE,
    entrypoint=["fmprep"],
    instance_count=1,
    instance_type="ml.m5.xlarge",
    volume_size_in_gb=30,
    max_runtime_in_seconds=3600,
)

preprocess = ProcessingStep(
    "Preprocess",
    processor=processor,
    job_name="placeholder-replaced-below",
    inputs=[ProcessingInput(source=REVIEWS_URI, destination=INPUT_DIR, input_name="reviews")],
    # The destination is replaced below by a per-run location; the SDK wants a URI here.
    outputs=[ProcessingOutput(source=OUTPUT_DIR, destination="s3://placeholder/", output_name="prepared")],
    container_entrypoint=["fmprep"],
    container_arguments=["run", f"{INPUT_DIR}/{REVIEWS_FILE}", "--output", OUTPUT_DIR, "--log-format", "json"],
    result_path="$.processing",
)
params = preprocess.fields["parameters"]
del params["ProcessingJobName"]
params["ProcessingJobName.$"] = "States.Format('fmprep-{}', $.run_id)"
s3_output = params["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]
del s3_output["S3Uri"]
s3_output["S3Uri.$"] = run_uri("prepared")

read_manifest = Task(
    "ReadManifest",
    resource="arn:aws:states:::aws-sdk:s3:getObject",
    parameters={
        "Bucket.$": "$.bucket",
        "Key.$": "States.Format('fmprep/{}/prepared/manifest.json', $.run_id)",
    },
    result_path="$.manifest_object",
)
parse_manifest = Pass(
    "ParseManifest",
    parameters={"manifest.$": "States.StringToJson($.manifest_object.Body)"},
    result_path="$.fmprep",
)

fm = Estimator(
    image_uri=FM_IMAGE,
    role=ROLE_ARN,
    instance_count=1,
    instance_type="ml.c5.4xlarge",
    volume_size=30,
    max_run=3600,
    output_path="s3://placeholder/model/",
    debugger_hook_config=False,  # else the SDK adds a DebugHookConfig at the placeholder path
)
train = TrainingStep(
    "Train",
    estimator=fm,
    job_name="placeholder-replaced-below",
    data={
        "train": "s3://placeholder/train/",
        "test": "s3://placeholder/validate/",
    },
    hyperparameters={
        # From fmprep's manifest: strings, as CreateTrainingJob wants them.
        "feature_dim.$": "$.fmprep.manifest.hyperparameters.feature_dim",
        "predictor_type.$": "$.fmprep.manifest.hyperparameters.predictor_type",
        "num_factors": "64",
        "mini_batch_size": "1000",
        "epochs": "100",
    },
)
params = train.fields["parameters"]
params.pop("TrainingJobName", None)
params["TrainingJobName.$"] = "States.Format('fm-reviews-{}', $.run_id)"
for channel, folder in (("train", "prepared/train/"), ("test", "prepared/validate/")):
    for c in params["InputDataConfig"]:
        if c["ChannelName"] == channel:
            source = c["DataSource"]["S3DataSource"]
            del source["S3Uri"]
            source["S3Uri.$"] = run_uri(folder)
            c["ContentType"] = "application/x-recordio-protobuf"
del params["OutputDataConfig"]["S3OutputPath"]
params["OutputDataConfig"]["S3OutputPath.$"] = run_uri("model/")

workflow = Workflow(
    name="fmprep-fm",
    definition=Chain([preprocess, read_manifest, parse_manifest, train]),
    role=WORKFLOW_ROLE_ARN,
)

if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--create"]:
        print(workflow.create())
    elif args[:1] == ["--write"] and len(args) == 2:
        # A file, not stdout: the SageMaker SDK logs its config lookups on stdout.
        with open(args[1], "w", encoding="utf-8") as f:
            f.write(workflow.definition.to_json(pretty=True) + "\n")
    else:
        print(workflow.definition.to_json(pretty=True))
