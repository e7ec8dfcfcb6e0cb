"""Root pytest configuration.

Three services (orchestrator, cortex, recovery) have a folder and a package of the same name. Under
`--import-mode=importlib` pytest would register the *folder* as a stand-in `orchestrator` module while
importing `orchestrator/tests/…`, hiding the real package; importing the real packages first prevents it.
"""

import cortex  # noqa: F401
import orchestrator  # noqa: F401
import recovery  # noqa: F401
