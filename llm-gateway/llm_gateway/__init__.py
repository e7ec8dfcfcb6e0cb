"""llm-gateway: multi-provider model routing via LiteLLM."""

import os

# LiteLLM downloads its model price map at import time unless told to use the copy it bundles; Nova must
# start offline. Set here, in the package's first module, so it precedes every `import litellm`.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

__version__ = "0.1.0"
