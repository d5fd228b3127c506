"""The SageMaker Model Building Pipeline definition of a spec pipeline, built offline.

`pipeline_definition` turns a pipeline component into the definition document (format
`2020-12-01`) that `aws.sagemaker.Pipeline` takes, as plain data with Refs and Concats where a
value is known only when the program runs (the role, bucket names, the key, script URIs).
`check_definition` checks it against SageMaker's own API shapes from botocore, so a wrong field
is a failed compile here rather than a failed deployment.

The package follows the definition's parts, one module each: `definition` (the whole of it:
`pipeline_definition`), `inputs` (what each step reads: `classify_input`), `conditions`,
`gating` (where each step sits), the steps by type (`processing`, `training`, `register`), what
job steps share (`jobs`, `images`, `layout`), `document` (its version, walking its steps:
`all_steps`) and `check` (`check_definition`). This module imports none of them, so that
`validate`, which asks only for images, loads no more than `images`.

Steps become, by type:
- processing: a `Processing` step running `python3 <script>` in SageMaker's scikit-learn
  image (the processing image of SKLearnProcessor);
- training: a `Training` step in script mode (`sagemaker_program`, `sagemaker_submit_directory`)
  in the training image of the model the pipeline registers (scikit-learn otherwise);
- condition: a `Condition` step; every step after it (transitively) runs only when it holds,
  so those steps sit in its `IfSteps` and there is no `else`. A step after several conditions,
  none of which runs after another, sits in the `IfSteps` of a condition step mlinfra adds,
  `<a>-and-<b>`, whose conditions are all of theirs (see "gating" below);
- register_model: a `RegisterModel` step adding a version to the model's registry group.

Data flow, the convention the example scripts follow:
- A processing step reads its inputs under `/opt/ml/processing/input/<name>` and writes one
  output, named after the step, from `/opt/ml/processing/output` to
  `s3://<artifacts>/pipelines/<pipeline>/runs/<execution id>/<step>` (per execution, so runs
  never mix or overwrite each other's data). `MLINFRA_PROCESSING_INPUT` and
  `MLINFRA_PROCESSING_OUTPUT` name the two folders.
- `inputs:` entries: `feature_store.<store>` is the store's offline S3 prefix, named `<store>`;
  `<step>.<x>` is the `<x>` subfolder of a processing step's output, or a training step's
  `model.tar.gz` (whatever `<x>` is), named `<x>`; an S3 URI or a local path (uploaded by the
  program) is named after its last path segment. A name already taken gets the first free
  `-<n>` suffix (`-2`, `-3`, ...), and `code` is always taken: it is the script's own input.
- A step that names no `<step>.<x>` input gets the churn layout from `after:`: a training step
  after exactly one processing step reads that step's `train` and `validation` subfolders as
  channels `train` and `validation`; a processing step after exactly one training step reads
  `model` (the training step's model artifacts) and `test` (the `test` subfolder of the one
  processing step that training step read from). `after:` edges that data already implies
  are left out of `DependsOn`.
- A condition reads `<step>.metrics.<name>`: from a processing step, `metrics.<name>.value`
  of `evaluation/evaluation.json` in the step's output (its property file, `<step>-metrics`);
  from a training step, the last value its log prints as `<name>=<number>`.
- A registered version serves with the training step's script (`SAGEMAKER_PROGRAM`) and
  accepts and returns `text/csv` and `application/json`. Under network isolation the serving
  container cannot fetch code, so it loads it from `/opt/ml/model/code`, where the training
  script must save a copy of itself.
"""
