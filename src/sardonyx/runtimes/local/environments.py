"""Content-addressed Python environments built with uv, the local runtime's equivalent of pulled images.

An environment is identified by the sha256 of its interpreter request and its sorted requirements (plus, when
a recipe installs this Sardonyx checkout, the checkout's path, extras and ``pyproject.toml``); it lives in
``<cache>/<key>/`` and is reused by every later launch that asks for the same thing. A build happens once:
launches in this process wait on an asyncio lock, other processes on an ``flock``. It is built in a temporary
directory (``uv venv --relocatable`` then ``uv pip install``) renamed into place only when complete, so the
cache never holds a half-built environment; a failed or cancelled build leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from sardonyx.errors import SardonyxError, Violation

MARKER = ".sardonyx-env.json"
"""File written into an environment once it is complete (what it was built from, when, how long it took)."""


class EnvironmentBuildFailed(SardonyxError):
    """uv could not build an environment; ``message`` carries the installer's own explanation."""

    status = 502
    reason = "environment-build-failed"
    title = "Environment build failed"


@dataclass(frozen=True)
class ProjectSource:
    """This Sardonyx checkout, installed editable with ``extras`` (so a chart can run ``codif``)."""

    path: Path
    extras: tuple[str, ...]

    def fingerprint(self) -> dict[str, object]:
        pyproject = self.path / "pyproject.toml"
        digest = hashlib.sha256(pyproject.read_bytes()).hexdigest() if pyproject.is_file() else ""
        return {"path": str(self.path), "extras": sorted(self.extras), "pyproject": digest}

    @property
    def spec(self) -> str:
        return f"{self.path}[{','.join(self.extras)}]" if self.extras else str(self.path)


@dataclass(frozen=True)
class EnvironmentRequest:
    """What an environment contains. ``python``: a ``uv venv --python`` request, None for the platform's own
    interpreter. ``requirements``: PEP 508 strings (validated by ``validate_requirements``)."""

    python: str | None
    requirements: tuple[str, ...]
    project: ProjectSource | None = None

    def key(self) -> str:
        """The content address: 24 hex digits of sha256 over the canonical description."""
        python = self.python or f"{sys.implementation.name}-{'.'.join(map(str, sys.version_info[:3]))}"
        material = {
            "python": python,
            "requirements": sorted(set(self.requirements)),
            "project": self.project.fingerprint() if self.project else None,
        }
        return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:24]

    def describe(self) -> str:
        parts = list(self.requirements) + ([f"-e {self.project.spec}"] if self.project else [])
        return ", ".join(parts) or "no requirements"


def validate_requirements(requirements: Sequence[str], where: str) -> list[Violation]:
    """Every requirement that is not a PEP 508 requirement string (so none can smuggle a uv option)."""
    problems: list[Violation] = []
    for index, text in enumerate(requirements):
        try:
            Requirement(text)
        except InvalidRequirement as error:
            problems.append(Violation(f"{where}[{index}]", f"{text!r} is not a valid requirement: {error}"))
    return problems


def platform_interpreter() -> str:
    """The base interpreter of the platform's own Python (what environments use by default)."""
    return str(getattr(sys, "_base_executable", None) or sys.executable)


@dataclass(frozen=True)
class BuiltEnvironment:
    path: Path
    reused: bool
    seconds: float

    @property
    def bin(self) -> Path:
        return self.path / "bin"

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"


LineSink = Callable[[str], None]


@dataclass(frozen=True)
class CachedEnvironment:
    """One complete environment of the cache, as its marker file describes it.

    Attributes:
        key: its content address (the folder's name); path: the folder.
        python: the interpreter request it was built with (None: the platform's own).
        requirements: its requirement strings; project: the checkout installed in it (path, extras), if any.
        built_at: when it was built (seconds since the epoch); build_seconds: how long that took.
        last_used: when a launch last used it (its marker file is touched at each use), else its build time.
        size: bytes of its files, a file hard-linked several times counted once.
    """

    key: str
    path: Path
    python: str | None
    requirements: tuple[str, ...]
    project: dict[str, object] | None
    built_at: float | None
    build_seconds: float | None
    last_used: float
    size: int

    def as_dict(self) -> dict[str, object]:
        return {
            "key": self.key,
            "path": str(self.path),
            "python": self.python,
            "requirements": list(self.requirements),
            "project": self.project,
            "builtAt": self.built_at,
            "buildSeconds": self.build_seconds,
            "lastUsed": self.last_used,
            "size": self.size,
        }


def processes_in(root: Path) -> dict[str, list[int]]:
    """Environment key -> pids of the processes on this machine running a program of that environment (a
    command-line word under ``<root>/<key>/``): what another platform sharing the cache runs too."""
    import psutil

    prefix = str(root.resolve()) + os.sep
    found: dict[str, list[int]] = {}
    for process in psutil.process_iter(["pid", "cmdline"]):
        for word in process.info.get("cmdline") or ():
            if word.startswith(prefix):
                key = word[len(prefix) :].split(os.sep, 1)[0]
                found.setdefault(key, []).append(int(process.info["pid"]))
                break
    return found


def tree_size(root: Path) -> int:
    """Bytes of the regular files under ``root`` (symbolic links not followed; each inode counted once)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    info = entry.stat(follow_symlinks=False)
                    if (info.st_dev, info.st_ino) not in seen:
                        seen.add((info.st_dev, info.st_ino))
                        total += info.st_size
            except OSError:
                continue
    return total


class EnvironmentCache:
    """The cache of built environments under ``root``.

    Args:
        root: cache directory (shared across data directories by default, e.g. ``~/.cache/sardonyx/envs``).
        uv_bin: the uv executable; default ``uv.find_uv_bin()``.
    """

    def __init__(self, root: Path, uv_bin: str | None = None) -> None:
        self.root = root
        self._uv_bin = uv_bin
        self._locks: dict[str, asyncio.Lock] = {}

    @property
    def uv_bin(self) -> str:
        if self._uv_bin is None:
            import uv

            self._uv_bin = str(uv.find_uv_bin())
        return self._uv_bin

    def entries(self) -> list[CachedEnvironment]:
        """Every complete environment of the cache (with its marker), oldest build first. Reads every file's
        size: tens of ms per environment (call it in a thread from async code)."""
        found: list[CachedEnvironment] = []
        if not self.root.is_dir():
            return found
        for folder in self.root.iterdir():
            if folder.name.startswith(".") or not (folder / MARKER).is_file():
                continue
            try:
                marker = json.loads((folder / MARKER).read_text())
                last_used = (folder / MARKER).stat().st_mtime
            except (OSError, ValueError):
                marker, last_used = {}, 0.0
            found.append(
                CachedEnvironment(
                    key=folder.name,
                    path=folder,
                    python=marker.get("python"),
                    requirements=tuple(marker.get("requirements") or ()),
                    project=marker.get("project"),
                    built_at=marker.get("built_at"),
                    build_seconds=marker.get("seconds"),
                    last_used=last_used,
                    size=tree_size(folder),
                )
            )
        return sorted(found, key=lambda e: (e.built_at or 0.0, e.key))

    def leftovers(self) -> list[Path]:
        """Folders that are no complete environment and that no build is writing: a build interrupted by a
        crash (``.tmp-<key>-*``), a folder without its marker."""
        found: list[Path] = []
        if not self.root.is_dir():
            return found
        for folder in self.root.iterdir():
            if folder.name == ".locks" or not folder.is_dir() or (folder / MARKER).is_file():
                continue
            key = folder.name[len(".tmp-") :].rsplit("-", 1)[0] if folder.name.startswith(".tmp-") else folder.name
            with self._try_lock(key) as locked:
                if locked:
                    found.append(folder)
        return sorted(found)

    def remove(self, path: Path) -> int:
        """Delete one environment or leftover folder of the cache unless a build of it is under way; returns
        the bytes freed (0 when it was kept or was not there).

        Raises:
            BadRequest: ``path`` is not a folder of this cache.
        """
        from sardonyx.errors import BadRequest

        if path.parent != self.root or path.name in {"", ".locks"}:
            raise BadRequest(f"{path} is not an environment of the cache {self.root}")
        key = path.name[len(".tmp-") :].rsplit("-", 1)[0] if path.name.startswith(".tmp-") else path.name
        with self._try_lock(key) as locked:
            if not locked or not path.is_dir():
                return 0
            size = tree_size(path)
            # the marker first: a half-deleted folder is never taken for a complete environment
            (path / MARKER).unlink(missing_ok=True)
            shutil.rmtree(path, ignore_errors=True)
        return size

    @contextlib.contextmanager
    def _try_lock(self, key: str) -> Iterator[bool]:
        """The build lock of ``key`` if free now (True), without waiting; False while a build holds it."""
        locks = self.root / ".locks"
        locks.mkdir(parents=True, exist_ok=True)
        fd = os.open(locks / f"{key}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def path_for(self, request: EnvironmentRequest) -> Path:
        return self.root / request.key()

    def is_built(self, request: EnvironmentRequest) -> bool:
        return (self.path_for(request) / MARKER).is_file()

    async def ensure(
        self, request: EnvironmentRequest, on_line: LineSink, on_wait: Callable[[], None] | None = None
    ) -> BuiltEnvironment:
        """The environment for ``request``, built if needed; ``on_line`` receives every line uv prints.

        Raises:
            EnvironmentBuildFailed: uv failed (its error message), or the interpreter cannot be found.
        """
        started = time.monotonic()
        key = request.key()
        final = self.root / key
        if (final / MARKER).is_file():
            with contextlib.suppress(OSError):
                os.utime(final / MARKER)  # "last used", for `sardonyx envs list`
            return BuiltEnvironment(final, reused=True, seconds=0.0)
        lock = self._locks.setdefault(key, asyncio.Lock())
        if lock.locked() and on_wait is not None:
            on_wait()
        async with lock, self._file_lock(key, on_wait):
            if (final / MARKER).is_file():  # built meanwhile, by this process or another
                return BuiltEnvironment(final, reused=True, seconds=time.monotonic() - started)
            await self._build(request, final, on_line)
        return BuiltEnvironment(final, reused=False, seconds=time.monotonic() - started)

    @contextlib.asynccontextmanager
    async def _file_lock(self, key: str, on_wait: Callable[[], None] | None) -> AsyncIterator[None]:
        locks = self.root / ".locks"
        locks.mkdir(parents=True, exist_ok=True)
        fd = os.open(locks / f"{key}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            told = False
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if not told and on_wait is not None:
                        on_wait()
                        told = True
                    # polling, not a blocking flock in a thread: a cancelled launch must not keep a waiter
                    await asyncio.sleep(0.2)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    async def _build(self, request: EnvironmentRequest, final: Path, on_line: LineSink) -> None:
        key = final.name
        for stale in self.root.glob(f".tmp-{key}-*"):  # we hold the lock: these are leftovers of a crash
            shutil.rmtree(stale, ignore_errors=True)
        shutil.rmtree(final, ignore_errors=True)  # an incomplete directory without marker
        temp = self.root / f".tmp-{key}-{secrets.token_hex(4)}"
        started = time.monotonic()
        try:
            python = request.python or platform_interpreter()
            await self._uv(["venv", "--relocatable", "--seed", "--python", python, str(temp)], on_line)
            install = ["pip", "install", "--python", str(temp / "bin" / "python")]
            if request.project is not None:
                install += ["--editable", request.project.spec]
            if request.requirements or request.project is not None:
                await self._uv([*install, "--", *request.requirements], on_line)
            marker = {
                "key": key,
                "python": request.python,
                "requirements": list(request.requirements),
                "project": request.project.fingerprint() if request.project else None,
                "built_at": time.time(),
                "seconds": round(time.monotonic() - started, 3),
            }
            (temp / MARKER).write_text(json.dumps(marker, indent=2) + "\n")
            temp.rename(final)
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise

    async def _uv(self, args: list[str], on_line: LineSink) -> None:
        env = dict(os.environ, NO_COLOR="1", UV_NO_PROGRESS="1", UV_PYTHON_DOWNLOADS="never")
        env.pop("VIRTUAL_ENV", None)
        process = await asyncio.create_subprocess_exec(
            self.uv_bin,
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
        )
        tail: list[str] = []
        try:
            if process.stdout is None:  # pragma: no cover - PIPE was asked for
                raise RuntimeError("uv's output is not readable")
            async for raw in process.stdout:
                line = raw.decode(errors="replace").rstrip()
                if not line:
                    continue
                tail = [*tail[-39:], line]
                on_line(line)
            code = await process.wait()
        except BaseException:
            if process.returncode is None:
                process.kill()
                await process.wait()
            raise
        if code != 0:
            raise EnvironmentBuildFailed(_installer_message(tail), command=["uv", *args[:1]], exit_code=code)


def _installer_message(lines: list[str]) -> str:
    """uv's own explanation: from its first ``error:`` line to the end."""
    for index, line in enumerate(lines):
        if line.startswith("error:"):
            return "\n".join(lines[index:])
    return "\n".join(lines[-10:]) or "uv failed without a message"


_UV_MILESTONES: tuple[tuple[re.Pattern[str], str, int], ...] = (
    (re.compile(r"^Using CPython (\S+)"), "Creating the environment with Python {0}.", 10),
    (re.compile(r"^Resolved (\d+) packages? in"), "Resolved {0} packages.", 25),
    (re.compile(r"^Downloading (\S+) \(([^)]+)\)"), "Downloading {0} ({1}).", 0),
    (re.compile(r"^Prepared (\d+) packages? in"), "Downloaded {0} packages.", 50),
    (re.compile(r"^Installed (\d+) packages? in"), "Installed {0} packages.", 58),
)


def describe_uv_line(line: str) -> tuple[str, int] | None:
    """A sentence for the user and a progress percentage (0 = keep the current one) for a milestone line of
    uv's output; None for lines that only belong in the log (each installed package, paths, hints).
    Warnings are passed on as they are."""
    text = line.strip()
    for pattern, template, percent in _UV_MILESTONES:
        match = pattern.match(text)
        if match:
            sentence = template.format(*match.groups())
            if match.group(1) == "1":
                sentence = sentence.replace(" packages.", " package.")
            return sentence, percent
    if text.startswith("warning:"):
        return text, 0
    return None
