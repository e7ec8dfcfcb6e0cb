"""Write every Python service's OpenAPI document to openapi/<service>.json.

    uv run python scripts/dump_openapi.py            # rewrite the documents
    uv run python scripts/dump_openapi.py --check    # exit 1 if a committed document is stale

The dashboard generates its TypeScript types from these files (`npm run gen:types`), so they are committed
and CI fails when a route changes without them. Only `create_app()` is called: the lifespan never runs, so
no server starts and no database, Redis or peer service is contacted.
"""

import argparse
import importlib
import json
import sys
import traceback
from pathlib import Path
from typing import Any

from nova_common.stack import SERVICES

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "openapi"


def openapi_document(package: str) -> dict[str, Any]:
    config = importlib.import_module(f"{package}.config")
    main = importlib.import_module(f"{package}.main")
    # `_env_file=None`: a developer's .env must not change the committed document.
    settings = config.Settings(_env_file=None)
    document: dict[str, Any] = main.create_app(settings).openapi()
    return document


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare with openapi/ instead of writing")
    args = parser.parse_args()

    stale: list[str] = []
    broken: list[str] = []
    OUT_DIR.mkdir(exist_ok=True)
    for spec in SERVICES:
        if spec.package is None:
            continue
        target = OUT_DIR / f"{spec.name}.json"
        try:
            text = render(openapi_document(spec.package))
        except Exception:
            # One service that does not import must not keep the others' documents from being refreshed.
            print(f"openapi: {spec.name}: create_app() failed:\n{traceback.format_exc()}", file=sys.stderr)
            broken.append(spec.name)
            continue
        current = target.read_text() if target.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(target.name)
        else:
            target.write_text(text)
            print(f"openapi: wrote {target.relative_to(ROOT)}")
    if stale:
        print("stale OpenAPI documents (run `make openapi`): " + ", ".join(stale), file=sys.stderr)
    return 1 if stale or broken else 0


if __name__ == "__main__":
    sys.exit(main())
