"""Model Monitor in the local emulator: monitoring schedules whose executions really run.

`Monitoring` (`service`) backs the control plane's monitoring operations
(CreateMonitoringSchedule ... ListMonitoringExecutions, DescribeProcessingJob); `definition`
checks a schedule's configuration and makes its baseline; `executions` runs an execution and
acts on its violations; `jobs` runs the baselining and analysis jobs (`mlinfra.monitoring.job`)
as subprocesses; `alerts` delivers and logs a monitor's alerts.
"""

from __future__ import annotations

from mlinfra.emulator.monitoring.service import Monitoring

__all__ = ["Monitoring"]
