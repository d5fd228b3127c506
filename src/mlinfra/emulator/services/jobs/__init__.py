"""SageMaker jobs as SDK users start them: training, processing and batch transform.

Each kind is a service (`training`, `processing`, `transform`) over one shared lifecycle
(`lifecycle`: records, threads, statuses, Stop). Training and processing jobs run through the
same container conventions as a pipeline's steps (`emulator/containers.py`); a transform job
serves its model on the serving runtime and scores its input files (`batch`).
"""
