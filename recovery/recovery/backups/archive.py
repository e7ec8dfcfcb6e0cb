"""The backup archive: a plain tar whose first member is the manifest, then the parts the manifest lists.

Plain tar, not gzip: the PostgreSQL dump is already compressed (custom format) and so is the Redis part,
and an uncompressed tar lets the manifest be read without inflating the rest. Every part is listed in the
manifest with its size and SHA-256, so a damaged, truncated or edited archive is found before a restore
touches anything.
"""

import hashlib
import os
import re
import tarfile
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError

from nova_contracts.recovery import BACKUP_FORMAT, BACKUP_FORMAT_VERSION, BackupManifest

MANIFEST = "manifest.json"
POSTGRES = "postgres.dump"
REDIS = "redis.jsonl.gz"
ENV = "env.sealed.json"
WORKSPACE = "workspace.tar"
KNOWN_PARTS = frozenset({POSTGRES, REDIS, ENV, WORKSPACE})
NAME = re.compile(r"^nova-backup-\d{8}T\d{6}Z-[a-z-]+-[0-9a-f]{8}\.tar$")
_MAX_MANIFEST_BYTES = 16 * 1024 * 1024


def archive_name(created_at: datetime, reason: str, backup_id: str) -> str:
    return f"nova-backup-{created_at:%Y%m%dT%H%M%SZ}-{reason}-{backup_id[:8]}.tar"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def write_archive(target: Path, manifest: BackupManifest, parts: dict[str, Path]) -> int:
    """Write the tar to `target` (0600) via a temporary name, so a crash never leaves a half archive listed."""
    partial = target.with_name(f".{target.name}.part")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with (
            os.fdopen(descriptor, "wb") as raw,
            tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            manifest_file = partial.with_name(partial.name + ".manifest")
            manifest_file.write_text(manifest.model_dump_json(indent=1))
            try:
                tar.add(manifest_file, arcname=MANIFEST, recursive=False)
            finally:
                manifest_file.unlink(missing_ok=True)
            for name, path in parts.items():
                tar.add(path, arcname=name, recursive=False)
            tar.close()
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return target.stat().st_size


def read_manifest(path: Path) -> BackupManifest:
    """The manifest of an archive this service wrote (for listing); raises ValueError when unreadable."""
    try:
        with tarfile.open(path, mode="r:") as tar:
            member = tar.next()
            if member is None or member.name != MANIFEST or not member.isfile():
                raise ValueError("the first member is not manifest.json")
            file = tar.extractfile(member)
            if file is None or member.size > _MAX_MANIFEST_BYTES:
                raise ValueError("manifest.json is unreadable")
            return BackupManifest.model_validate_json(file.read())
    except (tarfile.TarError, OSError, ValidationError) as exc:
        raise ValueError(str(exc)) from exc


def check_archive(path: Path, *, pg_restore_major: int | None) -> tuple[BackupManifest | None, list[str]]:
    """Verify an archive completely (manifest, every part's size and SHA-256, versions); list the problems."""
    problems: list[str] = []
    manifest: BackupManifest | None = None
    seen: dict[str, tuple[int, str]] = {}
    try:
        with tarfile.open(path, mode="r:") as tar:
            for member in tar:
                if not member.isfile() or "/" in member.name or member.name.startswith("."):
                    problems.append(f"unexpected member {member.name!r}")
                    continue
                if member.name in seen:
                    problems.append(f"member {member.name!r} appears twice")
                    continue
                file = tar.extractfile(member)
                if file is None:
                    problems.append(f"member {member.name!r} is unreadable")
                    continue
                if member.name == MANIFEST:
                    if member.size > _MAX_MANIFEST_BYTES:
                        problems.append("manifest.json is too large")
                        continue
                    raw = file.read()
                    try:
                        manifest = BackupManifest.model_validate_json(raw)
                    except ValidationError:
                        problems.append("manifest.json is not a Nova backup manifest")
                    seen[member.name] = (len(raw), "")
                    continue
                digest = hashlib.sha256()
                size = 0
                while chunk := file.read(1024 * 1024):
                    digest.update(chunk)
                    size += len(chunk)
                if size != member.size:
                    problems.append(f"member {member.name!r} is truncated")
                seen[member.name] = (size, digest.hexdigest())
    except (tarfile.TarError, OSError, EOFError) as exc:
        problems.append(f"the archive is truncated or not a tar file ({type(exc).__name__}: {exc})")
    if manifest is None:
        if MANIFEST not in seen:
            problems.append("no manifest.json: this is not a Nova backup")
        return None, problems
    if manifest.format != BACKUP_FORMAT:
        problems.append(f"format {manifest.format!r} is not {BACKUP_FORMAT!r}")
    if manifest.format_version != BACKUP_FORMAT_VERSION:
        problems.append(
            f"format version {manifest.format_version} cannot be read by this Nova (it reads {BACKUP_FORMAT_VERSION})"
        )
    listed = {m.name: m for m in manifest.members}
    for name, part in listed.items():
        if name not in KNOWN_PARTS:
            problems.append(f"manifest lists an unknown part {name!r}")
        elif name not in seen:
            problems.append(f"part {name!r} is missing (truncated archive?)")
        elif seen[name] != (part.size, part.sha256):
            problems.append(f"part {name!r} does not match its checksum (damaged or altered)")
    for name in seen:
        if name != MANIFEST and name not in listed:
            problems.append(f"part {name!r} is not in the manifest")
    if POSTGRES not in listed:
        problems.append("the archive has no PostgreSQL dump")
    if pg_restore_major is not None:
        from recovery.backups.postgres import major

        if major(manifest.pg_dump_version) > pg_restore_major:
            problems.append(
                f"the dump was made by pg_dump {manifest.pg_dump_version}, newer than this pg_restore "
                f"({pg_restore_major})"
            )
    return manifest, problems


def extract_parts(path: Path, names: list[str], target: Path) -> dict[str, Path]:
    """Copy the named (already verified) parts into `target`."""
    extracted: dict[str, Path] = {}
    with tarfile.open(path, mode="r:") as tar:
        for member in tar:
            if member.name in names and member.isfile():
                source = tar.extractfile(member)
                if source is None:
                    continue
                out_path = target / member.name
                with out_path.open("wb") as out:
                    while chunk := source.read(1024 * 1024):
                        out.write(chunk)
                extracted[member.name] = out_path
    return extracted
