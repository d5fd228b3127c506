"""The emulator's kit: what every service shares, imported downward and never upward.

`errors` (AWS's error shape and the codes SageMaker answers with), `arns` (the emulator's
account and its ARNs, written once), `paging` (List* defaults and NextTokens), `records`
(a stored record projected onto an operation's output shape; filtering, sorting and paging
as every List* does), `times` (a request's timestamps and durations), `clock` (the clock
of metrics, alarms and autoscaling, which a demo may speed up) and `paths` (where a
request may make the emulator read and write). Nothing here knows a service or the server.
"""
