"""`.env.example` lists every environment variable a Nova service reads, with its default.

The hand-written part at the top explains the variables most installations touch. Every other one is in
the generated reference at the end (between the two marker lines), rendered from the services' `Settings`
classes; when a setting is added or its default changes, this test fails and prints the new block.
"""

import enum
import importlib
import json
import re
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from nova_common.config import DatabaseSettings, NovaSettings
from nova_common.stack import SERVICES

ENV_EXAMPLE = Path(__file__).resolve().parent.parent / ".env.example"
BEGIN = "# ── Every other setting, by service (generated from the Settings classes; defaults shown) ──"
END = "# ── end of the generated reference ──"
# Set per process by the launcher and Compose (one .env is shared by every service), or for tests only.
NOT_FOR_ENV_FILES = frozenset({"SERVICE_NAME", "HOST", "PORT", "SSRF_ALLOW_LOOPBACK_FOR_TESTS"})


def _env_name(name: str, field: FieldInfo, prefix: str) -> str:
    alias = field.validation_alias or field.alias
    if isinstance(alias, AliasChoices):
        alias = alias.choices[0]
    return str(alias or prefix + name).upper()


def _render(value: Any) -> str:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, enum.Enum):
        value = value.value
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def settings_variables(settings: type[BaseModel], prefix: str = "") -> dict[str, str]:
    """Environment name -> rendered default of every field (a nested model's fields carry its prefix)."""
    variables: dict[str, str] = {}
    for name, field in settings.model_fields.items():
        if field.exclude:
            continue  # a deprecated alias, read with a warning
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel) and not issubclass(kind, BaseSettings):
            variables |= settings_variables(kind, prefix=f"{name.upper()}_")
            continue
        variables[_env_name(name, field, prefix)] = _render(field.get_default(call_default_factory=True))
    return variables


def generated_reference(documented: set[str]) -> str:
    """The reference block for every variable the hand-written part does not already list."""
    shared = settings_variables(DatabaseSettings)
    kit = {k: v for k, v in shared.items() if k not in NOT_FOR_ENV_FILES | documented}
    lines = [BEGIN, "# Every service (nova_common.config):"]
    lines += [f"# {name}={value}" for name, value in sorted(kit.items())]
    seen = set(kit) | documented | NOT_FOR_ENV_FILES
    for spec in SERVICES:
        if spec.package is None:
            continue
        config = importlib.import_module(f"{spec.package}.config")
        own = {
            k: v
            for k, v in settings_variables(config.Settings).items()
            if k not in NOT_FOR_ENV_FILES | documented and (k not in shared or shared[k] != v)
        }
        if not own:
            continue
        lines.append(f"# {spec.name}:")
        for name, value in sorted(own.items()):
            # A name several services read applies to each of them; the comment says whose default it is.
            lines.append(f"# {name}={value}" + ("   # also read by another service" if name in seen else ""))
            seen.add(name)
    lines.append(END)
    return "\n".join(lines)


def _hand_written_names(text: str) -> set[str]:
    return set(re.findall(r"^# ?([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))


def test_env_example_lists_every_setting_with_its_default() -> None:
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    assert BEGIN in text and END in text, f"{ENV_EXAMPLE} lost its generated reference markers"
    head, _, rest = text.partition(BEGIN)
    current = BEGIN + rest.partition(END)[0] + END
    expected = generated_reference(_hand_written_names(head))
    assert current == expected, (
        "the generated part of .env.example is out of date; replace it with:\n\n" + expected
    )


def test_every_setting_of_every_service_is_named_in_env_example() -> None:
    names = _hand_written_names(ENV_EXAMPLE.read_text(encoding="utf-8"))
    missing = {
        f"{spec.name}: {name}"
        for spec in SERVICES
        if spec.package is not None
        for name in settings_variables(importlib.import_module(f"{spec.package}.config").Settings)
        if name not in names | NOT_FOR_ENV_FILES
    }
    assert len(names) > 100
    assert not missing, f"not in .env.example: {sorted(missing)}"


def test_the_kit_settings_are_the_base_of_every_service() -> None:
    for spec in SERVICES:
        if spec.package is not None:
            assert issubclass(importlib.import_module(f"{spec.package}.config").Settings, NovaSettings)


def rewrite_env_example() -> None:
    """Replace the generated block of `.env.example` (or append it): `uv run python tests/test_env_example.py`."""
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    head, _, rest = text.partition(BEGIN)
    tail = rest.partition(END)[2] if rest else "\n"
    head = head.rstrip("\n") + "\n\n"
    ENV_EXAMPLE.write_text(head + generated_reference(_hand_written_names(head)) + tail, encoding="utf-8")


if __name__ == "__main__":
    rewrite_env_example()
