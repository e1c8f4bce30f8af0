"""Example DAG, container variant: the fmprep image as a SageMaker Processing job -> FM training.

The same pipeline as ``dag.py``, but the Airflow worker only orchestrates: preprocessing runs
in the fmprep container image (see docs/container.md for building it and pushing it to ECR) as
a SageMaker Processing job, so the workers need neither the fmprep binary nor the
``fmprep_airflow`` package, only ``apache-airflow-providers-amazon``.

``fmprep run`` replaces both ``preprocess`` and ``prepare``: one job reads the reviews and writes
the RecordIO-protobuf channels. Processing uploads /opt/ml/processing/output to the run's S3
prefix when fmprep exits 0; ``read_manifest`` then reads ``manifest.json`` from there and returns
its hyperparameters, and the training job takes ``feature_dim`` from them (XCom).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from airflow import DAG
from airflow.operators.python import PythonOperator
from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.operators.sagemaker import (
    SageMakerProcessingOperator,
    SageMakerTrainingOperator,
)

# --- settings to adapt ---------------------------------------------------------------------
BUCKET = "my-ml-bucket"
SAGEMAKER_ROLE_ARN = "arn:aws:iam::123456789012:role/FmprepSageMakerExecutionRole"
# The image built from this repository's Dockerfile, pushed to ECR (docs/container.md).
FMPREP_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/fmprep:0.1.0"
FM_IMAGE = "382416733822.dkr.ecr.us-east-1.amazonaws.com/factorization-machines:1"
REVIEWS_FILE = "amazon_reviews_us_Digital_Video_Download_v1_00.tsv.gz"
REVIEWS_URL = f"s3://my-data-bucket/amazon_reviews/{REVIEWS_FILE}"

# One prefix per run: fmprep and the training job never see an earlier run's files.
RUN_PREFIX = "fmprep/{{ ts_nodash }}"
PREPARED_KEY = f"{RUN_PREFIX}/prepared"
PREPARED = f"s3://{BUCKET}/{PREPARED_KEY}"
MANIFEST_KEY = f"{PREPARED_KEY}/manifest.json"  # fmprep writes it last, at the top of --output

INPUT_DIR = "/opt/ml/processing/input/reviews"
OUTPUT_DIR = "/opt/ml/processing/output"

# A CreateProcessingJob request (docs/sagemaker/create-processing-job.json is the same job as
# boto3 JSON). ``config`` is templated, so {{ ts_nodash }} is filled in per run.
PROCESSING_CONFIG = {
    "ProcessingJobName": "fmprep-{{ ts_nodash }}",
    "RoleArn": SAGEMAKER_ROLE_ARN,
    "AppSpecification": {
        "ImageUri": FMPREP_IMAGE,
        "ContainerEntrypoint": ["fmprep"],
        "ContainerArguments": [
            "run",
            f"{INPUT_DIR}/{REVIEWS_FILE}",
            "--output",
            OUTPUT_DIR,
            "--log-format",
            "json",  # one JSON object per CloudWatch log line
            # A retried job returns the finished run it finds instead of failing (exit 6).
            "--if-exists",
            "reuse",
        ],
    },
    "ProcessingInputs": [
        {
            "InputName": "reviews",
            "S3Input": {
                "S3Uri": REVIEWS_URL,
                "LocalPath": INPUT_DIR,
                "S3DataType": "S3Prefix",
                "S3InputMode": "File",
                "S3DataDistributionType": "FullyReplicated",
            },
        }
    ],
    "ProcessingOutputConfig": {
        "Outputs": [
            {
                "OutputName": "prepared",
                "S3Output": {"S3Uri": PREPARED, "LocalPath": OUTPUT_DIR, "S3UploadMode": "EndOfJob"},
            }
        ]
    },
    "ProcessingResources": {
        "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 30}
    },
    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
}


def read_manifest(bucket: str, key: str, aws_conn_id: str = "aws_default") -> dict:
    """Read fmprep's manifest.json from S3 and return its hyperparameters (strings).

    The return value goes to XCom: ``{"feature_dim": "348", "predictor_type": "regressor"}``.
    """
    manifest = json.loads(S3Hook(aws_conn_id=aws_conn_id).read_key(key=key, bucket_name=bucket))
    return manifest["hyperparameters"]


TRAINING_CONFIG = {
    "TrainingJobName": "fm-reviews-{{ ts_nodash }}",
    "AlgorithmSpecification": {"TrainingImage": FM_IMAGE, "TrainingInputMode": "File"},
    "RoleArn": SAGEMAKER_ROLE_ARN,
    "HyperParameters": {
        "feature_dim": "{{ ti.xcom_pull(task_ids='read_manifest')['feature_dim'] }}",
        "predictor_type": "{{ ti.xcom_pull(task_ids='read_manifest')['predictor_type'] }}",
        "num_factors": "64",
        "mini_batch_size": "1000",
        "epochs": "100",
    },
    "InputDataConfig": [
        {
            "ChannelName": channel,
            "ContentType": "application/x-recordio-protobuf",
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": f"{PREPARED}/{folder}/",
                    "S3DataDistributionType": "FullyReplicated",
                }
            },
        }
        # FM's optional "test" channel is scored after training: the validation split.
        for channel, folder in (("train", "train"), ("test", "validate"))
    ],
    "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/{RUN_PREFIX}/model/"},
    "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.c5.4xlarge", "VolumeSizeInGB": 30},
    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
}

with DAG(
    dag_id="fmprep_reviews_fm_processing",
    start_date=datetime(2024, 1, 1),
    schedule=None,  # Airflow < 2.4: schedule_interval=None
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=5)},
) as dag:
    # fmprep's exit code decides the job's status: a non-zero exit fails the job (and the task),
    # and nothing is uploaded as a finished run (fmprep writes manifest.json last).
    preprocess_task = SageMakerProcessingOperator(
        task_id="preprocessing",
        config=PROCESSING_CONFIG,
        aws_conn_id="aws_default",
        wait_for_completion=True,
        check_interval=30,
        # A retry after a failed job starts a new one, its name suffixed with a timestamp.
        action_if_job_exists="timestamp",
    )

    manifest_task = PythonOperator(
        task_id="read_manifest",
        python_callable=read_manifest,
        op_kwargs={"bucket": BUCKET, "key": MANIFEST_KEY},
    )

    train_task = SageMakerTrainingOperator(
        task_id="model_training",
        config=TRAINING_CONFIG,
        aws_conn_id="aws_default",
        wait_for_completion=True,
        check_interval=30,
    )

    preprocess_task >> manifest_task >> train_task
