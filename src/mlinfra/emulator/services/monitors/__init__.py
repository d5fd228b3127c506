"""Model Monitor in the local emulator: monitoring schedules whose executions really run.

`service.Monitors` is the control plane's Model Monitor operations (CreateMonitoringSchedule
... ListMonitoringExecutions, DescribeProcessingJob); `definition` checks a schedule's
configuration and makes its baseline; `executions` runs an execution and acts on its
violations; `jobs` runs the baselining and analysis jobs of the monitor engine
(`mlinfra.monitoring.job`) as subprocesses; `alerts` delivers and logs a monitor's alerts.
"""
