"""The emulator's services: one module (or package) per SageMaker resource family.

Each service is a class over the control plane's `Store`, built once at start-up by
`control.ControlPlane` with the kit, the runtimes and the other services it needs passed in.
It names its operations in `OPERATIONS` (each handled by the method of the same name in
snake case, taking the request's parameters and region) and the kinds of record it keeps in
`KINDS` (what the tag operations may name by ARN). The control plane's dispatch table is the
union of the services' tables. A service imports the kit (`emulator.kit`), the runtimes and
its own modules, never the control plane or the server.
"""
