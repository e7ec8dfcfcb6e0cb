"""Write docs/api.md, the route reference of every service, from the OpenAPI documents in openapi/.

    uv run python scripts/dump_openapi.py && uv run python scripts/api_docs.py

Each route is listed with its one-line docstring and the credential it asks for, so the page stays as true
as the code it is generated from.
"""

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCHEMES = {"AdminSecret": "admin", "ApiKey": "API key", "ServiceToken": "service"}


def credential(operation: dict) -> str:  # type: ignore[type-arg]
    names = {SCHEMES.get(name, name) for item in operation.get("security", []) for name in item}
    return " or ".join(sorted(names)) if names else "public"


def main() -> None:
    lines = [
        "# Nova API reference",
        "",
        "Generated from each service's OpenAPI document (`scripts/api_docs.py`); every service also serves",
        "interactive docs at `http://127.0.0.1:<port>/docs`. Credentials: `admin` = `X-Admin-Secret`,",
        "`API key` = `Authorization: Bearer sk-nova-…` or `X-API-Key`, `service` = `X-Service-Token`.",
        "",
    ]
    for path in sorted((ROOT / "openapi").glob("*.json")):
        document = json.loads(path.read_text())
        lines += [f"## {path.stem}", "", document.get("info", {}).get("description", "").strip(), ""]
        lines += ["| method | path | credential | what it does |", "|---|---|---|---|"]
        for route, operations in document.get("paths", {}).items():
            for method, operation in operations.items():
                summary = (operation.get("description") or operation.get("summary") or "").strip()
                summary = summary.splitlines()[0] if summary else ""
                lines.append(f"| {method.upper()} | `{route}` | {credential(operation)} | {summary} |")
        lines.append("")
    (ROOT / "docs").mkdir(exist_ok=True)
    (ROOT / "docs" / "api.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
