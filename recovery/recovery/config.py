"""recovery settings, read from the environment and `.env`."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator

from nova_common.config import DatabaseSettings


class Settings(DatabaseSettings):
    service_name: str = "recovery"
    port: int = 8888
    dashboard_url: str = "http://127.0.0.1:3000"
    # Which opt-in services are expected to run (COMPOSE_PROFILES; NOVA_PROFILES is the launcher's old name).
    profiles: str = Field(default="", validation_alias=AliasChoices("COMPOSE_PROFILES", "NOVA_PROFILES"))
    probe_timeout_seconds: float = Field(default=2.0, gt=0, le=30)

    # `make run` starts services from the repo root, so these land in ./data; Compose mounts volumes there.
    data_dir: Path = Field(default=Path("data"), alias="NOVA_DATA_DIR")
    backup_dir_setting: Path | None = Field(default=None, alias="BACKUP_DIR")
    workspace: Path = Field(default=Path("data/workspace"), alias="NOVA_WORKSPACE")
    env_file: Path = Field(default=Path(".env"), alias="NOVA_ENV_FILE")
    # Where pg_dump/pg_restore live when neither the embedded server's nor PATH's fit the server.
    pg_bin_dir: Path | None = Field(default=None, alias="PG_BIN_DIR")
    backup_upload_max_bytes: int = Field(default=20 * 1024**3, ge=1024 * 1024)
    # How long a restore's pg_restore may wait for locks held by services still writing.
    restore_timeout_seconds: float = Field(default=3600, gt=0)
    checkpoint_check_seconds: float = Field(default=60.0, gt=0)

    # Who restarts services: the launcher's supervisor (`make run` passes its URL), the Docker Engine (Compose
    # mounts the socket), or nobody. `auto` picks the first of those that is there.
    service_manager: Literal["auto", "launcher", "docker", "none"] = Field(
        default="auto", alias="NOVA_SERVICE_MANAGER"
    )
    supervisor_url: str | None = Field(default=None, alias="NOVA_SUPERVISOR_URL")
    docker_host: str = Field(default="unix:///var/run/docker.sock", alias="DOCKER_HOST")
    compose_project: str = Field(default="nova", alias="COMPOSE_PROJECT_NAME")
    # The local model server's name to the manager: `model-server` under make run, `ollama` under Compose.
    model_server_service: str = "model-server"
    inference_drain_seconds: float = Field(default=15.0, ge=0, le=600)
    # A backend switch: how long the new server may take to answer (vLLM loads large models for minutes),
    # and how long the gateway may keep routing from its cached config after `inference.state` changes
    # (llm-gateway's CONFIG_REFRESH_SECONDS).
    inference_ready_seconds: float = Field(default=900.0, gt=0)
    gateway_config_refresh_seconds: float = Field(default=3.0, ge=0, le=60)
    # Under `make run`: the llama.cpp server's config file (the launcher starts `llama_cpp.server
    # --config_file` on it) and a folder of GGUF files offered besides the bundled SmolLM2.
    model_server_config_setting: Path | None = Field(default=None, alias="NOVA_MODEL_SERVER_CONFIG")
    gguf_dir_setting: Path | None = Field(default=None, alias="NOVA_GGUF_DIR")
    # Under Compose: where a vLLM/SGLang container recovery starts is reached (`{service}`, `{port}`), and
    # models offered besides the built-in list (comma-separated Ollama tags or Hugging Face ids).
    inference_container_url: str = "http://{service}:{port}"
    inference_extra_models: str = ""
    hf_token: SecretStr = Field(default=SecretStr(""), alias="HF_TOKEN")

    @field_validator(
        "data_dir",
        "workspace",
        "env_file",
        "backup_dir_setting",
        "pg_bin_dir",
        "model_server_config_setting",
        "gguf_dir_setting",
    )
    @classmethod
    def _expand_home(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @property
    def backup_dir(self) -> Path:
        return self.backup_dir_setting or self.data_dir / "backups"

    @property
    def model_server_config(self) -> Path:
        return self.model_server_config_setting or self.data_dir / "model-server.json"

    @property
    def gguf_dir(self) -> Path:
        return self.gguf_dir_setting or self.data_dir / "models"


@lru_cache
def get_settings() -> Settings:
    return Settings()
