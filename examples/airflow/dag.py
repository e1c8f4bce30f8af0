"""Example DAG: Amazon reviews -> fmprep preprocess -> fmprep prepare -> SageMaker FM training.

Requirements on the Airflow workers:
  * the ``fmprep`` wheel (``pip install ./python`` from the fmprep repository, or the wheel
    ``pip wheel ./python`` made, e.g. from MWAA's requirements.txt: docs/python.md); no binary
    and no Rust toolchain are needed on the workers;
  * AWS credentials the standard way (instance profile, or
    ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_REGION``), since fmprep reads and
    writes S3 itself;
  * ``apache-airflow-providers-amazon`` for ``SageMakerTrainingOperator``.

The training job's ``feature_dim`` is not hard-coded: it is read from the manifest that the
``preparing`` task returned (and Airflow stored in XCom), so it follows the data.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow import DAG
from airflow.operators.python import PythonOperator
from airflow.providers.amazon.aws.operators.sagemaker import SageMakerTrainingOperator

from fmprep.airflow import prepare, preprocess

# --- settings to adapt ---------------------------------------------------------------------
BUCKET = "my-ml-bucket"
REGION = "us-east-1"
SAGEMAKER_ROLE_ARN = "arn:aws:iam::123456789012:role/AirflowSageMakerExecutionRole"
# The built-in Factorization Machines image for REGION; the SageMaker SDK prints it with
#   sagemaker.image_uris.retrieve("factorization-machines", REGION)
FM_IMAGE = "382416733822.dkr.ecr.us-east-1.amazonaws.com/factorization-machines:1"
REVIEWS_URL = "s3://my-data-bucket/amazon_reviews_us_Digital_Video_Download_v1_00.tsv.gz"

# Every run writes under its own prefix: fmprep refuses to replace an output that already holds
# a different finished run (exit code 6). A retried or cleared task re-runs into the same prefix;
# preprocess and prepare pass `--if-exists reuse`, so it gets the finished run back when the
# input and options are unchanged, instead of failing. op_kwargs and the SageMaker config are
# templated, so {{ ts_nodash }} is filled in per run.
RUN_PREFIX = "fmprep/{{ ts_nodash }}"

config = {}

config["preprocess_data"] = {
    "s3_in_url": REVIEWS_URL,
    "s3_out_bucket": BUCKET,
    "s3_out_prefix": f"{RUN_PREFIX}/preprocess/",
    "delimiter": "\t",  # the reviews file is tab-separated
}

config["prepare_data"] = {
    "s3_in_bucket": BUCKET,
    "s3_in_prefix": f"{RUN_PREFIX}/preprocess/",
    "s3_out_bucket": BUCKET,
    "s3_out_prefix": f"{RUN_PREFIX}/prepare/",
    "delimiter": ",",  # fmprep preprocess writes comma-separated CSV
}

# A CreateTrainingJob request, as SageMakerTrainingOperator takes it. Its ``config`` field is
# templated, so the Jinja expressions below are rendered when the task runs.
# SageMaker wants hyperparameters as strings, which is what the template renders to.
PREPARED = f"s3://{BUCKET}/{RUN_PREFIX}/prepare"
TRAINING_CONFIG = {
    "TrainingJobName": "fm-reviews-{{ ts_nodash }}",
    "AlgorithmSpecification": {"TrainingImage": FM_IMAGE, "TrainingInputMode": "File"},
    "RoleArn": SAGEMAKER_ROLE_ARN,
    "HyperParameters": {
        "feature_dim": "{{ ti.xcom_pull(task_ids='preparing')['feature_dim'] }}",
        "predictor_type": "regressor",  # star ratings 1..5
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
    dag_id="fmprep_reviews_fm",
    start_date=datetime(2024, 1, 1),
    schedule=None,  # Airflow < 2.4: schedule_interval=None
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=5)},
) as dag:
    # execution_timeout is enforced inside the callable: on expiry Airflow raises
    # AirflowTaskTimeout, and fmprep.airflow cancels the run (staged files removed, no manifest)
    # before it propagates.
    preprocess_task = PythonOperator(
        task_id="preprocessing",
        python_callable=preprocess,
        op_kwargs=config["preprocess_data"],
        execution_timeout=timedelta(hours=1),
    )

    # Returns fmprep's manifest; Airflow pushes it to XCom (key "return_value").
    prepare_task = PythonOperator(
        task_id="preparing",
        python_callable=prepare,
        op_kwargs=config["prepare_data"],
        execution_timeout=timedelta(hours=1),
    )

    train_task = SageMakerTrainingOperator(
        task_id="model_training",
        config=TRAINING_CONFIG,
        aws_conn_id="aws_default",
        wait_for_completion=True,
        check_interval=30,
    )

    preprocess_task >> prepare_task >> train_task
