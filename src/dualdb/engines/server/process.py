"""The server process: its run folder, launch, readiness, shutdown, and what ``/proc`` says about processes.

The server listens only on a unix socket inside the private run folder, so
no port can clash, nothing is reachable from the network, and several pytest
processes (xdist workers, parallel CI jobs) each get their own server.
Durability is switched off (``fsync``, ``synchronous_commit``,
``full_page_writes``): the data is thrown away and tests run faster.
``postgres`` is started directly as our child with ``PR_SET_PDEATHSIG`` so it
dies with pytest even on ``kill -9`` (through ``pg_ctl`` it would survive).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

from dualdb.errors import ServerError
from dualdb.engines.server.binaries import PgBinaries
from dualdb.engines.server.files import tail
from dualdb.engines.server.locales import COLLATION_NOTE_SETTING, ClusterLocale
from dualdb.engines.server.run_as import RunAs, child_env

PORT = 5432  # the socket folder is private, so the default port cannot clash
_READY_TIMEOUT = 15.0
_MAX_SOCKET_PATH = 100  # sun_path is 104 (macOS) / 108 (Linux) bytes with its NUL
_PR_SET_PDEATHSIG = 1
_RUN_PREFIX = "dualdb-run-"
_TRASH_PREFIX = "trash-"  # trash-dualdb-run-*: a stopped run's folder a detached rm is deleting


def make_run_dir(run_root: Path | None, run_as: RunAs) -> Path:
    """A fresh private folder holding ``data/`` and ``sock/``, owned by the service user."""
    root = Path(run_root) if run_root is not None else _default_run_root(run_as)
    run_dir = Path(tempfile.mkdtemp(prefix=_RUN_PREFIX, dir=_run_parent(root)))
    socket_path = run_dir / "sock" / f".s.PGSQL.{PORT}"
    if len(str(socket_path).encode()) > _MAX_SOCKET_PATH:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise ServerError(f"The socket path {socket_path} is longer than unix sockets allow "
                          f"({_MAX_SOCKET_PATH} bytes); pass a shorter run folder (run_root) such as /var/tmp.")
    (run_dir / "sock").mkdir(mode=0o700)
    run_as.chown(run_dir)
    run_as.chown(run_dir / "sock")
    return run_dir


def _run_parent(root: Path) -> Path:
    """``<root>/dualdb-<uid>``: our own folder for run folders, flagged to spread them over the disk.

    Each run creates ~1000 files and the previous run just deleted ~1000. On
    ext4 without a journal (common on CI VMs, measured here) the inode
    allocator then scans past every recently deleted inode of the block group:
    a 30 ms copy became 0.6-1 s. With the ``T`` (top directory) attribute on
    this parent, ext4 places each run folder in a fresh block group and the
    copy stays at ~30 ms. Falls back to ``root`` itself if the folder is not
    safely ours (someone else could swap files in a folder they own).
    """
    parent = root / f"dualdb-{os.geteuid() if hasattr(os, 'geteuid') else 'user'}"
    try:
        parent.mkdir(mode=0o711)  # the service user must traverse it to reach its run folder
        _set_topdir_flag(parent)
    except FileExistsError:
        pass
    except OSError:
        return root
    st = parent.lstat()
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
        return root
    return parent


def _set_topdir_flag(path: Path) -> None:
    """``chattr +T``: best effort, only meaningful on ext2/3/4.

    The ioctl numbers are ``_IOR/_IOW('f', 1/2, long)`` of the generic Linux
    ioctl layout with an 8-byte long, hence the list of machines; the kernel
    reads and writes an ``int`` at the start of the buffer.
    """
    if not sys.platform.startswith("linux") or os.uname().machine not in ("x86_64", "aarch64", "riscv64", "s390x"):
        return
    import array
    import fcntl

    fs_ioc_getflags, fs_ioc_setflags, fs_topdir_fl = 0x80086601, 0x40086602, 0x00020000
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        flags = array.array("i", [0, 0])
        fcntl.ioctl(fd, fs_ioc_getflags, flags, True)
        flags[0] |= fs_topdir_fl
        fcntl.ioctl(fd, fs_ioc_setflags, flags)
    except OSError:
        pass  # not ext*, or not allowed: run folders are merely slower to fill
    finally:
        os.close(fd)


def _default_run_root(run_as: RunAs) -> Path:
    """Where run folders go: ``$TMPDIR`` if set and short, else ``/var/tmp``, else ``/tmp``.

    ``/var/tmp`` before ``/tmp``: it is disk-backed, so a test database never
    eats RAM as it would on a tmpfs ``/tmp``, and it sees far less file churn
    from other programs. Churn matters on ext4 without a journal (see
    ``_run_parent``): back-to-back warm starts measured here ran 70-840 ms in
    ``/tmp`` (busy with pytest's own tmp_path folders) and 66-190 ms in
    ``/var/tmp``. ``$TMPDIR`` is ignored when switching users: it may sit in
    a home folder the service user cannot enter. Paths stay short for the
    unix socket.
    """
    candidates = ["/var/tmp", "/tmp", tempfile.gettempdir()]
    if os.environ.get("TMPDIR") and not run_as.switches:
        candidates.insert(0, os.environ["TMPDIR"])
    for candidate in candidates:
        if len(candidate) <= 40 and os.path.isdir(candidate) and os.access(candidate, os.W_OK | os.X_OK):
            return Path(candidate)
    return Path(tempfile.gettempdir())


def _server_settings(timezone: str, locale: ClusterLocale) -> list[str]:
    """Throwaway-server settings, passed on the command line so the cached cluster stays generic.

    When the server has to sort bytewise, it carries the reason as a custom
    setting: whoever connects (an xdist worker too) can tell the user why.
    """
    settings = {
        "listen_addresses": "",  # unix socket only
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "TimeZone": timezone,
        "max_connections": "100",
        "shared_buffers": "32MB",
        "logging_collector": "off",
    }
    if locale.fix:
        settings[COLLATION_NOTE_SETTING] = locale.fix
    return [arg for key, value in settings.items() for arg in ("-c", f"{key}={value}")]


def launch(
    binaries: PgBinaries, run_dir: Path, run_as: RunAs, timezone: str, locale: ClusterLocale
) -> subprocess.Popen[bytes]:
    """Start ``postgres`` as our direct child (not via pg_ctl) so it can die with us."""
    args = [str(binaries.program("postgres")), "-D", str(run_dir / "data"), "-k", str(run_dir / "sock"),
            "-p", str(PORT), *_server_settings(timezone, locale)]
    with open(run_dir / "postgres.log", "ab") as log:
        try:
            return subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=child_env(binaries, locale),
                cwd=run_dir,
                start_new_session=True,  # a terminal Ctrl-C reaches pytest, which then stops us cleanly
                preexec_fn=_die_with_parent(),
                **run_as.popen_kwargs(),
            )
        except OSError as exc:
            raise ServerError(f"Could not run {args[0]} ({exc}); check the install or set dualdb_pg_binaries.") from exc


class KeeperThread(threading.Thread):
    """A thread that lives as long as the servers it starts (``early.EarlyServer``): their death signal is armed."""


def _die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the kernel send SIGQUIT (immediate shutdown) when pytest dies.

    CPython calls ``preexec_fn`` after ``setgroups/setregid/setreuid``; that
    order matters because the kernel clears the death signal when credentials
    change. The signal fires when the *thread* that forked exits, so it is only
    armed when starting from the main thread or a ``KeeperThread``.
    """
    current = threading.current_thread()
    if not sys.platform.startswith("linux") or not (current is threading.main_thread()
                                                     or isinstance(current, KeeperThread)):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def arm() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGQUIT), 0, 0, 0)
        if os.getppid() != parent:  # parent died before the signal was armed
            os._exit(1)

    return arm


def wait_ready(process: subprocess.Popen[bytes], run_dir: Path) -> str:
    """Poll a psycopg connection on the socket; return ``server_version``."""
    import psycopg

    socket_file = run_dir / "sock" / f".s.PGSQL.{PORT}"
    deadline = time.monotonic() + _READY_TIMEOUT
    last_error = "no socket yet"
    while True:
        code = process.poll()
        if code is not None:
            raise ServerError(f"PostgreSQL exited with code {code} while starting: {_log_tail(run_dir)}")
        if socket_file.exists():
            try:
                with psycopg.connect(host=str(socket_file.parent), port=PORT, user="postgres",
                                     dbname="postgres", connect_timeout=5, autocommit=True) as conn:
                    return str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
            except psycopg.OperationalError as exc:  # e.g. "the database system is starting up"
                last_error = str(exc).strip().splitlines()[-1]
        if time.monotonic() > deadline:
            raise ServerError(f"PostgreSQL did not accept connections within {_READY_TIMEOUT:.0f} s "
                              f"({last_error}); log: {_log_tail(run_dir)}")
        time.sleep(0.005)


def shutdown_clean(pid: int, process: subprocess.Popen[bytes] | None, grace: float = 30.0) -> bool:
    """Fast shutdown (SIGINT: disconnect everyone, checkpoint, exit); True when it exited in time."""
    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        return False
    if not _wait_gone(pid, process, grace):
        return False
    return process is None or process.returncode == 0


def shutdown(pid: int, process: subprocess.Popen[bytes] | None) -> None:
    """Immediate shutdown (SIGQUIT), then SIGKILL if it hangs.

    Every cluster stopped here is a throwaway copy deleted right after, so
    the checkpoint of a fast shutdown would only be written to be deleted.
    """
    if process is not None and process.poll() is not None:
        return  # already gone (a clean shutdown): its pid may belong to someone else by now
    for sig, grace in ((signal.SIGQUIT, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            break
        if _wait_gone(pid, process, grace):
            break
    if process is not None and process.poll() is None:
        try:
            process.wait(1)
        except subprocess.TimeoutExpired:
            pass


def _wait_gone(pid: int, process: subprocess.Popen[bytes] | None, grace: float) -> bool:
    if process is not None:
        try:
            process.wait(grace)
            return True
        except subprocess.TimeoutExpired:
            return False
    deadline = time.monotonic() + grace
    while _running(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def remove_run_dir(run_dir: Path) -> None:
    """Delete a run folder, but only one that looks like ours (a corrupt record must not aim elsewhere)."""
    if run_dir.is_absolute() and run_dir.name.startswith(_RUN_PREFIX) and run_dir.is_dir():
        shutil.rmtree(run_dir, ignore_errors=True)


def discard_run_dir(run_dir: Path) -> None:
    """Delete a stopped server's run folder without waiting: renamed away at once (the run folder is gone),
    deleted by a detached ``rm`` while pytest exits (about 1000 files: 0.1 s of a warm run).

    A trash folder whose ``rm`` was killed is deleted by a later start (``reap_trash``).
    """
    if not (run_dir.is_absolute() and run_dir.name.startswith(_RUN_PREFIX) and run_dir.is_dir()):
        return
    trash = run_dir.with_name(f"{_TRASH_PREFIX}{run_dir.name}")
    try:
        os.rename(run_dir, trash)
        # sh starts rm in the background and exits: rm is nobody's child to wait for
        subprocess.run(["sh", "-c", 'rm -rf -- "$1" >/dev/null 2>&1 &', "sh", str(trash)], check=True,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       start_new_session=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        remove_run_dir(run_dir)
        shutil.rmtree(trash, ignore_errors=True)


def reap_trash(parent: Path, older_than: float = 60.0) -> None:
    """Delete the trash folders (``discard_run_dir``) in ``parent`` whose ``rm`` is long gone: a folder
    ``rm`` is still emptying has just been modified (and deleting it twice is harmless)."""
    try:
        entries = [entry for entry in os.scandir(parent) if entry.name.startswith(_TRASH_PREFIX)]
    except OSError:
        return
    for entry in entries:
        try:
            if time.time() - entry.stat(follow_symlinks=False).st_mtime > older_than and entry.is_dir(
                    follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
        except OSError:
            continue


def _log_tail(run_dir: Path, lines: int = 5) -> str:
    try:
        return tail((run_dir / "postgres.log").read_text(errors="replace"), lines)
    except OSError:
        return "(no log)"


def is_postmaster_of(pid: int, datadir: Path) -> bool:
    """True only if ``pid`` is a live postgres serving ``datadir``: pids get reused."""
    argv = _cmdline(pid)
    return bool(argv) and "postgres" in os.path.basename(argv[0]) and str(datadir) in argv


def kill_children(pid: int) -> None:
    """SIGKILL backends a SIGKILLed postmaster may have left (they would exit on their own, slowly)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return
    for entry in proc.iterdir():
        if entry.name.isdigit() and _parent_of(int(entry.name)) == pid:
            argv = _cmdline(int(entry.name))
            if argv and argv[0].startswith("postgres"):
                try:
                    os.kill(int(entry.name), signal.SIGKILL)
                except OSError:
                    pass


def _cmdline(pid: int) -> list[str]:
    """argv of a live process (empty for zombies and missing processes)."""
    if Path("/proc/self").exists():
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return []
        return [part.decode(errors="replace") for part in raw.split(b"\0") if part]
    try:  # no /proc (macOS): ask ps
        out = subprocess.run(["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return []
    return out.stdout.split()


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of ``/proc/<pid>/stat`` after the command name (field 3 onward)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2:].split()


def _parent_of(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[1]) if fields else None


def process_started(pid: int) -> int | None:
    """Start time in clock ticks since boot: with the pid, it identifies a process despite pid reuse."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def _running(pid: int) -> bool:
    """Exists and is not a zombie (a reparented postmaster may stay a zombie if init does not reap)."""
    fields = _stat_fields(pid)
    if fields is not None:
        return fields[0] != "Z"
    if Path("/proc/self").exists():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def alive(pid: Any, started: Any) -> bool:
    if not isinstance(pid, int) or not _running(pid):
        return False
    return started is None or process_started(pid) in (None, started)
