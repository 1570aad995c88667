"""Model-building seed code of the multi-account project: the data scientist's side.

`pipeline` defines the SageMaker Pipeline (preprocess, train, evaluate, register), `run`
upserts and starts it, `project` holds what happens around it (data in, approval out).
Only `pipeline` and `run` import the SageMaker SDK, so the helpers stay cheap to import.
"""
