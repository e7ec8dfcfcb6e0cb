"""llm-gateway: multi-provider model routing via LiteLLM."""

import os

# LiteLLM downloads its model price map at import time unless told to use the copy it bundles; Nova must
# start offline. Set here, in the package's first module, so it precedes every `import litellm`.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
# Outside its "DEV" mode LiteLLM does not load the working directory's `.env` into the process environment at
# import: the gateway reads its settings itself, and must not pick up every secret of Nova's `.env` (the
# Postgres password, the admin secret) nor hand them to the processes it starts.
os.environ.setdefault("LITELLM_MODE", "PRODUCTION")

__version__ = "0.1.0"
