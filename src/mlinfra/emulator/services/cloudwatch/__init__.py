"""CloudWatch in the emulator: metrics (SageMaker's per-invocation ones included), metric math
and metric alarms evaluated on the scheduler (`service.CloudWatch`)."""
