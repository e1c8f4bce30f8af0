//! The container image's contract, checked without docker (scripts/container_test.sh builds and
//! runs the image itself): the Dockerfile's labels and user, and the SageMaker Processing and Step
//! Functions definitions in docs/ and the Processing DAG in examples/airflow/. Those definitions
//! are executed here: their Parameters are
//! evaluated against the example execution input (JSONPath and the intrinsic functions they use),
//! fmprep runs with the container arguments, the container paths mapped to a temporary directory,
//! and its output is "uploaded" the way Processing uploads a LocalPath to its S3Uri. The states
//! that follow must then find the manifest and the training channels where fmprep wrote them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::util::Workdir;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const CONTAINER_ROOT: &str = "/opt/ml/processing/";

fn read_json(rel: &str) -> Value {
    let text = std::fs::read_to_string(Path::new(ROOT).join(rel)).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{rel} is not valid JSON: {e}"))
}

/// `$`, `$.a.b`: the value at a path. A path that names nothing fails the test, as it fails the
/// execution in Step Functions.
fn path<'a>(p: &str, data: &'a Value) -> &'a Value {
    let rest = p.strip_prefix('$').unwrap_or_else(|| panic!("not a path: {p}"));
    rest.split('.').filter(|s| !s.is_empty()).fold(data, |v, key| {
        v.get(key)
            .unwrap_or_else(|| panic!("path {p}: no field {key:?} in {v}"))
    })
}

/// The value of a `.$` field: a path or one of the intrinsic functions the definitions use.
fn expr(e: &str, data: &Value) -> Value {
    let e = e.trim();
    if e.starts_with('$') {
        return path(e, data).clone();
    }
    if let Some(arg) = e
        .strip_prefix("States.StringToJson(")
        .and_then(|s| s.strip_suffix(')'))
    {
        let s = path(arg.trim(), data).as_str().expect("StringToJson of a string");
        return serde_json::from_str(s).expect("StringToJson: the string is not JSON");
    }
    if let Some(args) = e.strip_prefix("States.Format(").and_then(|s| s.strip_suffix(')')) {
        let args = args.trim_start();
        let body = args.strip_prefix('\'').expect("Format's template is quoted");
        let end = body.find('\'').expect("Format's template ends");
        let (template, rest) = (&body[..end], &body[end + 1..]);
        let values: Vec<String> = rest
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|p| match path(p, data) {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        let parts: Vec<&str> = template.split("{}").collect();
        assert_eq!(parts.len() - 1, values.len(), "{e}: placeholders vs arguments");
        let mut out = parts[0].to_string();
        for (v, p) in values.iter().zip(&parts[1..]) {
            out.push_str(v);
            out.push_str(p);
        }
        return Value::String(out);
    }
    panic!("unsupported expression in a definition: {e}");
}

/// Parameters / ResultSelector: `key.$` fields evaluated against `data`, the rest copied.
fn eval(template: &Value, data: &Value) -> Value {
    match template {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| match k.strip_suffix(".$") {
                    Some(key) => (key.to_string(), expr(v.as_str().expect("a .$ string"), data)),
                    None => (k.clone(), eval(v, data)),
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|v| eval(v, data)).collect()),
        v => v.clone(),
    }
}

/// A Task state's output: its result through ResultSelector, placed at ResultPath in its input.
fn state_output(state: &Value, input: &Value, result: Value) -> Value {
    let result = match state.get("ResultSelector") {
        Some(sel) => eval(sel, &result),
        None => result,
    };
    // No ResultPath: "$", the result replaces the input (fine for the last state only).
    let Some(rp) = state.get("ResultPath").and_then(Value::as_str) else {
        return result;
    };
    let mut out = input.clone();
    let keys: Vec<&str> = rp.trim_start_matches("$.").split('.').collect();
    let (last, parents) = keys.split_last().unwrap();
    let mut cur = &mut out;
    for k in parents {
        cur = cur.as_object_mut().unwrap().entry(*k).or_insert(json!({}));
    }
    cur.as_object_mut().unwrap().insert(last.to_string(), result);
    out
}

/// A stand-in for S3: object URL -> local file.
type Bucket = BTreeMap<String, PathBuf>;

fn put_tree(s3: &mut Bucket, prefix: &str, dir: &Path, base: &Path) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            put_tree(s3, prefix, &p, base);
        } else {
            let rel = p.strip_prefix(base).unwrap().to_string_lossy().replace('\\', "/");
            s3.insert(format!("{}/{rel}", prefix.trim_end_matches('/')), p);
        }
    }
}

/// Run a CreateProcessingJob request as Processing would: download each input's S3Uri under its
/// LocalPath (here: the bundled sample, named as the object), run the entrypoint with the
/// arguments, upload each output's LocalPath to its S3Uri. Returns the uploaded objects.
fn run_processing_job(w: &Workdir, req: &Value) -> (Bucket, Value) {
    let app = &req["AppSpecification"];
    let image = app["ImageUri"].as_str().unwrap();
    let (repo, tag) = image.rsplit_once(':').expect("ImageUri has a tag");
    assert!(
        repo.ends_with(".amazonaws.com/fmprep") && repo.contains(".dkr.ecr."),
        "ImageUri {image}: an ECR repository named fmprep"
    );
    assert_eq!(tag, env!("CARGO_PKG_VERSION"), "ImageUri tag = the crate version");
    assert_eq!(app["ContainerEntrypoint"], json!(["fmprep"]));

    let host = w.path("container");
    let map = |container_path: &str| -> PathBuf {
        let rel = container_path
            .strip_prefix(CONTAINER_ROOT)
            .unwrap_or_else(|| panic!("{container_path} is not under {CONTAINER_ROOT}"));
        host.join(rel)
    };
    let sample = Path::new(ROOT).join("data-samples/reviews_sample.tsv.gz");
    for input in req["ProcessingInputs"].as_array().unwrap() {
        let s3 = &input["S3Input"];
        assert_eq!(s3["S3InputMode"], "File", "fmprep reads the downloaded files");
        let local = map(s3["LocalPath"].as_str().unwrap());
        std::fs::create_dir_all(&local).unwrap();
        let uri = s3["S3Uri"].as_str().unwrap();
        let name = uri
            .rsplit('/')
            .next()
            .filter(|n| !n.is_empty())
            .unwrap_or("part-0.tsv.gz");
        std::fs::copy(&sample, local.join(name)).unwrap();
    }
    let outputs = req["ProcessingOutputConfig"]["Outputs"].as_array().unwrap();
    for o in outputs {
        std::fs::create_dir_all(map(o["S3Output"]["LocalPath"].as_str().unwrap())).unwrap();
    }

    let args: Vec<String> = app["ContainerArguments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let a = a.as_str().unwrap();
            if a.starts_with(CONTAINER_ROOT) {
                map(a).to_string_lossy().into_owned()
            } else {
                a.to_string()
            }
        })
        .collect();
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let manifest = w.fmprep(&argv).ok();

    let mut s3 = Bucket::new();
    for o in outputs {
        let local = map(o["S3Output"]["LocalPath"].as_str().unwrap());
        put_tree(&mut s3, o["S3Output"]["S3Uri"].as_str().unwrap(), &local, &local);
    }
    (s3, manifest)
}

/// The objects under an `s3://` prefix, as names relative to it.
fn under(s3: &Bucket, prefix: &str) -> Vec<String> {
    s3.keys()
        .filter_map(|k| k.strip_prefix(prefix).map(str::to_string))
        .collect()
}

/// Execute a state machine definition's data flow (see the module doc) and return the names of
/// the states it went through.
fn run_state_machine(rel: &str) -> Vec<String> {
    let w = Workdir::new();
    let def = read_json(rel);
    let states = &def["States"];
    let mut data = read_json("docs/stepfunctions/execution-input.json");
    let mut name = def["StartAt"].as_str().unwrap().to_string();
    let mut s3 = Bucket::new();
    let mut ran = Vec::new();
    let mut manifest = Value::Null;
    loop {
        let state = &states[&name];
        let params = eval(&state["Parameters"], &data);
        let result = match (state["Type"].as_str().unwrap(), state["Resource"].as_str()) {
            ("Pass", None) => params,
            ("Task", Some("arn:aws:states:::sagemaker:createProcessingJob.sync")) => {
                let (objects, m) = run_processing_job(&w, &params);
                s3.extend(objects);
                manifest = m;
                json!({"ProcessingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:processing-job/x",
                       "ProcessingJobStatus": "Completed"})
            }
            ("Task", Some("arn:aws:states:::aws-sdk:s3:getObject")) => {
                let url = format!(
                    "s3://{}/{}",
                    params["Bucket"].as_str().unwrap(),
                    params["Key"].as_str().unwrap()
                );
                let file = s3.get(&url).unwrap_or_else(|| {
                    panic!(
                        "{name} reads {url}, which the job did not write; it wrote {:?}",
                        s3.keys()
                    )
                });
                json!({"Body": std::fs::read_to_string(file).unwrap(), "ContentType": "application/json"})
            }
            ("Task", Some("arn:aws:states:::sagemaker:createTrainingJob.sync")) => {
                let hp = &params["HyperParameters"];
                for (k, v) in hp.as_object().unwrap() {
                    assert!(v.is_string(), "hyperparameter {k} must be a string, is {v}");
                }
                assert_eq!(hp["feature_dim"], json!(manifest["feature_dim"].to_string()));
                assert_eq!(hp["predictor_type"], "regressor");
                let channels: BTreeMap<&str, &str> = params["InputDataConfig"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| {
                        assert_eq!(c["ContentType"], "application/x-recordio-protobuf");
                        let uri = c["DataSource"]["S3DataSource"]["S3Uri"].as_str().unwrap();
                        (c["ChannelName"].as_str().unwrap(), uri)
                    })
                    .collect();
                assert_eq!(under(&s3, channels["train"]), ["train.protobuf"]);
                assert_eq!(under(&s3, channels["test"]), ["validate.protobuf"]);
                json!({"TrainingJobStatus": "Completed"})
            }
            other => panic!("state {name}: unexpected {other:?}"),
        };
        ran.push(name.clone());
        if state.get("End") == Some(&json!(true)) {
            break;
        }
        data = state_output(state, &data, result);
        name = state["Next"].as_str().unwrap().to_string();
    }
    assert_eq!(data["fmprep"]["manifest"]["feature_dim"], manifest["feature_dim"]);
    assert!(data["processing"]["ProcessingJobArn"].is_string());
    ran
}

#[test]
fn step_functions_state_machine_trains_on_what_fmprep_wrote() {
    let ran = run_state_machine("docs/stepfunctions/fmprep-fm.asl.json");
    assert_eq!(ran, ["Preprocess", "ReadManifest", "Train"]);
}

/// The Data Science SDK's output (docs/stepfunctions/sdk_workflow.py --write ...), committed.
#[test]
fn step_functions_sdk_definition_trains_on_what_fmprep_wrote() {
    let ran = run_state_machine("docs/stepfunctions/fmprep-fm.sdk.asl.json");
    assert_eq!(ran, ["Preprocess", "ReadManifest", "ParseManifest", "Train"]);
}

#[test]
fn create_processing_job_request_writes_the_run_layout_to_its_output_uri() {
    let w = Workdir::new();
    let req = read_json("docs/sagemaker/create-processing-job.json");
    let (s3, manifest) = run_processing_job(&w, &req);
    let out = req["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
        .as_str()
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    let names = under(&s3, &format!("{out}/"));
    for want in [
        "manifest.json",
        "train/train.protobuf",
        "validate/validate.protobuf",
        "test/test_0.protobuf",
        "maps/customers.tsv",
        "maps/products.tsv",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} not under {out}/: {names:?}"
        );
    }
    assert_eq!(manifest["feature_dim"], 348, "the bundled sample's feature_dim");
}

#[test]
fn dockerfile_labels_the_crate_version_and_runs_as_a_numeric_non_root_user() {
    let text = std::fs::read_to_string(Path::new(ROOT).join("Dockerfile")).unwrap();
    let arg = |name: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(&format!("ARG {name}=")))
            .map(|v| v.trim().to_string())
    };
    assert_eq!(arg("VERSION").as_deref(), Some(env!("CARGO_PKG_VERSION")));
    assert_eq!(arg("BINARY").as_deref(), Some("target/release/fmprep"));
    let froms: Vec<&str> = text.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert!(!froms.is_empty());
    for f in &froms {
        assert!(f.starts_with("FROM debian:bookworm-slim"), "{f}");
    }
    let user = text
        .lines()
        .filter_map(|l| l.strip_prefix("USER "))
        .next_back()
        .expect("a USER line");
    let uid: u32 = user
        .split(':')
        .next()
        .unwrap()
        .trim()
        .parse()
        .expect("a numeric USER");
    assert_ne!(uid, 0);
    assert!(text.lines().any(|l| l == r#"ENTRYPOINT ["fmprep"]"#));
    for label in ["version", "source", "revision"] {
        assert!(
            text.contains(&format!("org.opencontainers.image.{label}=")),
            "OCI label {label}"
        );
    }
    // The build context is the repository root; everything but the binary stays out of it.
    let ignore = std::fs::read_to_string(Path::new(ROOT).join(".dockerignore")).unwrap();
    let rules: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(rules, ["*", "!target/release/fmprep"]);
}

/// The module-level settings of examples/airflow/dag_processing.py as JSON: its assignments
/// evaluated by python3 (the imports, the callable and the DAG block skipped, so no Airflow is
/// needed), Jinja templates left as they are.
fn dag_settings() -> Value {
    const SCRIPT: &str = r#"
import ast, json, sys
tree = ast.parse(open(sys.argv[1]).read())
ns = {}
for node in tree.body:
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        exec(compile(ast.Module([node], []), sys.argv[1], "exec"), ns)
print(json.dumps({k: v for k, v in ns.items() if k.isupper()}))
"#;
    let dag = Path::new(ROOT).join("examples/airflow/dag_processing.py");
    let out = std::process::Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(&dag)
        .output()
        .expect("python3 (the examples are Python)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Airflow renders `{{ ts_nodash }}`; here every string gets the same run stamp.
fn render(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(s.replace("{{ ts_nodash }}", "20240601T000000")),
        Value::Array(a) => Value::Array(a.iter().map(render).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), render(v))).collect()),
        v => v.clone(),
    }
}

#[test]
fn airflow_processing_dag_trains_on_what_its_processing_job_wrote() {
    let w = Workdir::new();
    let settings = render(&dag_settings());
    let (s3, manifest) = run_processing_job(&w, &settings["PROCESSING_CONFIG"]);

    // read_manifest reads this object and returns its hyperparameters to XCom.
    let manifest_url = format!(
        "s3://{}/{}",
        settings["BUCKET"].as_str().unwrap(),
        settings["MANIFEST_KEY"].as_str().unwrap()
    );
    let written: Value = serde_json::from_slice(
        &std::fs::read(
            s3.get(&manifest_url)
                .unwrap_or_else(|| panic!("{manifest_url} was not written; the job wrote {:?}", s3.keys())),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(written["feature_dim"], manifest["feature_dim"]);
    assert_eq!(
        written["hyperparameters"]["feature_dim"],
        json!(manifest["feature_dim"].to_string())
    );

    let training = &settings["TRAINING_CONFIG"];
    let hp = &training["HyperParameters"];
    assert_eq!(
        hp["feature_dim"],
        "{{ ti.xcom_pull(task_ids='read_manifest')['feature_dim'] }}"
    );
    for c in training["InputDataConfig"].as_array().unwrap() {
        let uri = c["DataSource"]["S3DataSource"]["S3Uri"].as_str().unwrap();
        let want = match c["ChannelName"].as_str().unwrap() {
            "train" => "train.protobuf",
            "test" => "validate.protobuf",
            other => panic!("unexpected channel {other}"),
        };
        assert_eq!(under(&s3, uri), [want], "channel {}", c["ChannelName"]);
    }
}
