"""The name rendered local programs import their resource classes by.

Every local stack's `__main__.py` says `from mlinfra.providers import dynamic as local`, and
stacks rendered by earlier versions stay on users' disks, so this name stays while the
providers live with the embedded engine (`mlinfra.engines.providers`). Only rendered programs
import it; mlinfra's own code imports `mlinfra.engines.providers` directly.
"""

from mlinfra.engines.providers import dynamic

__all__ = ["dynamic"]
