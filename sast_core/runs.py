"""Run folders know what they hold: a manifest, conflicts refused before any work, a lock while writing,
multi-file outputs that are complete or not trusted.

`DIR/manifest.json` = {"format": "sast.run-folder", "version": 1, "entries": {name: entry}}, one entry per
command that wrote into DIR (its name is the command, e.g. "sast_models.evaluate"): argv, the resolved
configuration, the sha256 of the model the results are about (or null), the files it writes, `complete`,
the package version and the time. A command:

1. `RunFolder(out).check(entry, overwrite=...)` while validating (reads only): InputError, one line, when DIR
   holds results that the new ones would contradict: the same command with another configuration, results
   about another model, a command whose model this run replaces, another command's files, or files no
   manifest describes. `--overwrite` drops those entries (and deletes their files) instead.
2. `with folder.session(entry, overwrite=...) as session:` takes an fcntl lock on DIR/.sast.lock (another
   command writing there: one line, exit 2), checks again under the lock, removes temp files of interrupted
   writes and what --overwrite replaces, and
3. `session.commit({name: data})` writes every file to a temp file first (a full disk stops here, with nothing
   changed), marks the entry incomplete, renames them all, then marks it complete: the marker readers check
   (`completed`). `session.write(name, data)` writes one file at once (per-epoch state), the entry incomplete.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from .atomic import Staged, WriteError, atomic_write_text, json_text, stage
from .errors import InputError
from .outputs import check_writable

MANIFEST = "manifest.json"
LOCK = ".sast.lock"
FORMAT = "sast.run-folder"
VERSION = 1
PACKAGE = "sast-toolkit"

Output = bytes | str | Callable[[Path], None]  # file contents, or a function writing the file at a path


def package_version() -> str:
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return "unknown"


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes, read in chunks; an unreadable file is an InputError naming it."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as err:
        raise InputError(f"{path}: cannot read file ({err.strerror or err})") from err
    return digest.hexdigest()


def flag_name(key: str) -> str:
    """The flag of a configuration key: val_fraction -> --val-fraction."""
    return "--" + key.replace("_", "-")


def jsonable(value: Any) -> Any:
    """`value` as it reads back from JSON (tuples become lists), for comparisons with a manifest."""
    return json.loads(json.dumps(value, allow_nan=False))


def differences(old: dict, new: dict, ignore: Collection[str] = ()) -> list[str]:
    """`--flag: old -> new` for every key whose value differs (keys in `ignore` skipped)."""
    keys = sorted(k for k in set(old) | set(new) if k not in ignore and old.get(k) != new.get(k))
    return [f"{flag_name(k)}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys]


@dataclass
class Entry:
    """What one command's results in a folder are: see the module docstring."""

    name: str
    configuration: dict[str, Any]
    files: tuple[str, ...]
    model_sha256: str | None = None
    argv: list[str] = field(default_factory=list)
    complete: bool = False
    package_version: str = field(default_factory=package_version)
    updated_utc: str = ""

    def __post_init__(self) -> None:
        self.configuration = jsonable(self.configuration)
        self.files = tuple(self.files)
        for name in self.files:
            if not name or Path(name).name != name or name in (MANIFEST, LOCK):
                raise ValueError(f"run-folder output {name!r}: expected a plain file name")

    def to_dict(self) -> dict[str, Any]:
        return {"argv": list(self.argv), "configuration": self.configuration, "files": list(self.files),
                "model_sha256": self.model_sha256, "complete": self.complete,
                "package_version": self.package_version, "updated_utc": self.updated_utc}

    @classmethod
    def from_dict(cls, name: str, data: Any) -> Entry:
        if not isinstance(data, dict) or not isinstance(data.get("configuration"), dict) \
                or not isinstance(data.get("files"), list) or not isinstance(data.get("complete"), bool) \
                or not isinstance(data.get("model_sha256"), (str, type(None))):
            raise ValueError(f"entry {name!r} is malformed")
        return cls(name, data["configuration"], tuple(data["files"]), data["model_sha256"],
                   list(data.get("argv", [])), data["complete"], str(data.get("package_version", "unknown")),
                   str(data.get("updated_utc", "")))


def read_entries(folder: str | os.PathLike) -> dict[str, Entry]:
    """The entries of `folder`'s manifest ({} without one); InputError for a corrupt manifest."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("entries"), dict):
            raise ValueError("not a run manifest")
        if data.get("version") != VERSION:
            raise ValueError(f"unknown version {data.get('version')!r}")
        return {name: Entry.from_dict(name, entry) for name, entry in data["entries"].items()}
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise InputError(f"{path}: corrupt run manifest ({err}); pass --overwrite to start the folder afresh") \
            from None


def completed(folder: str | os.PathLike, name: str) -> Entry | None:
    """The complete entry `name` of `folder` (None if absent or unfinished; a corrupt manifest is None too)."""
    try:
        entry = read_entries(folder).get(name)
    except InputError:
        return None
    return entry if entry is not None and entry.complete else None


class RunFolder:
    """An output folder (`flag` names it in messages)."""

    def __init__(self, out: str | os.PathLike, flag: str = "--out") -> None:
        self.out, self.flag = Path(out), flag

    def conflicts(self, new: Entry, *, ignore: Collection[str] = (), replaces_model: bool = False,
                  adopt: bool = False, entries: dict[str, Entry] | None = None) -> tuple[list[str], list[str]]:
        """(reasons, names of the entries in the way) for writing `new` into the folder.

        ignore: configuration keys that may differ from the same command's entry (a resume's --epochs);
        replaces_model: this run produces the folder's model (training), so results about the old one conflict;
        adopt: existing files no entry describes are taken over (a resume of a folder without a manifest).
        """
        entries = read_entries(self.out) if entries is None else entries
        reasons, names = [], []
        for name, old in entries.items():
            reason = None
            if name == new.name:
                changed = differences(old.configuration, new.configuration, ignore)
                if changed:
                    reason = f"{name} results of another configuration ({', '.join(changed[:3])})"
                elif old.model_sha256 and new.model_sha256 and old.model_sha256 != new.model_sha256:
                    reason = f"{name} results for another model (sha256 {old.model_sha256[:12]}...)"
            elif old.model_sha256 and new.model_sha256 and old.model_sha256 != new.model_sha256:
                reason = f"{name} results for another model (sha256 {old.model_sha256[:12]}...)"
            elif replaces_model and old.model_sha256:
                reason = f"{name} results for the model this run would replace"
            elif set(old.files) & set(new.files):
                shared = sorted(set(old.files) & set(new.files))
                reason = f"{name} results in {', '.join(shared[:3])} that this command would rewrite"
            if reason:
                reasons.append(reason)
                names.append(name)
        if not adopt:
            described = {f for entry in entries.values() for f in entry.files}
            strays = [f for f in new.files if f not in described and (self.out / f).exists()]
            if strays:
                reasons.append(f"{', '.join(strays[:3])} that no manifest entry describes")
        return reasons, names

    def check(self, new: Entry, *, overwrite: bool, **options) -> None:
        """Before any work (writes nothing): InputError for an unwritable folder, or one whose results `new`
        would contradict (unless `overwrite`)."""
        check_writable(self.out, self.flag)
        if not self.out.is_dir():
            return
        try:
            reasons, _ = self.conflicts(new, **options)
        except InputError:
            if overwrite:
                return
            raise
        if reasons and not overwrite:
            raise InputError(f"{self.flag} {self.out}: holds {'; '.join(reasons)}; pass --overwrite to replace "
                             f"them, or choose another folder")

    @contextmanager
    def session(self, new: Entry, *, overwrite: bool, wait: bool = False, **options) -> Iterator[Session]:
        """Lock the folder, check again, drop what --overwrite replaces, record `new` as incomplete."""
        created = not self.out.exists()
        try:
            self.out.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise WriteError(f"{self.flag} {self.out}: cannot create it ({err.strerror})") from None
        lock = _Lock(self.out / LOCK, self.flag, self.out)
        try:
            lock.acquire(wait)
        except BaseException:
            if created:
                _remove_empty(self.out)
            raise
        try:
            try:
                entries = read_entries(self.out)
            except InputError:
                if not overwrite:
                    raise
                entries = {}
            reasons, names = self.conflicts(new, entries=entries, **options)
            if reasons and not overwrite:
                raise InputError(f"{self.flag} {self.out}: holds {'; '.join(reasons)}; pass --overwrite to "
                                 f"replace them, or choose another folder")
            for stale in self.out.glob(".*.tmp"):  # temp files of writes interrupted by a kill
                stale.unlink(missing_ok=True)
            for name in names:
                for file in entries.pop(name).files:
                    if file not in new.files:
                        (self.out / file).unlink(missing_ok=True)
            if not options.get("adopt") and overwrite:
                described = {f for entry in entries.values() for f in entry.files}
                for file in new.files:
                    if file not in described:
                        (self.out / file).unlink(missing_ok=True)
            previous = entries.pop(new.name, None)
            session = Session(self, new, entries)
            if names:  # the manifest no longer lists what --overwrite removed
                session.save(previous)
            yield session
        except BaseException:
            if created:
                _remove_empty(self.out, lock.path)
            raise
        finally:
            lock.release()


class Session:
    """Writing into a locked run folder: single files now (`write`), or all outputs at once (`commit`).

    The manifest lists the entry as incomplete from the first file that changes (its first `write`, or the
    renames of a `commit`, after every file was written in full) until `commit` marks it complete.
    """

    def __init__(self, folder: RunFolder, entry: Entry, others: dict[str, Entry]) -> None:
        self.folder, self.entry, self.others = folder, entry, others
        self.recorded = False

    def path(self, name: str) -> Path:
        if name not in self.entry.files:
            raise ValueError(f"{name!r} is not among the declared outputs {self.entry.files}")
        return self.folder.out / name

    def save(self, entry: Entry | None) -> None:
        """Write the manifest: the other entries and `entry` (None: only the others)."""
        entries = dict(self.others)
        if entry is not None:
            entries[entry.name] = entry
        manifest = {"format": FORMAT, "version": VERSION,
                    "entries": {name: item.to_dict() for name, item in sorted(entries.items())}}
        atomic_write_text(self.folder.out / MANIFEST, json_text(manifest))

    def record(self, *, complete: bool) -> None:
        self.entry.complete = complete
        self.entry.updated_utc = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.save(self.entry)
        self.recorded = True

    def write(self, name: str, data: Output) -> Path:
        """Write one declared output atomically now (e.g. per-epoch metrics); the entry stays incomplete."""
        staged = _stage(self.path(name), data)
        if not self.recorded:
            try:
                self.record(complete=False)
            except BaseException:
                staged.discard()
                raise
        return staged.commit()

    def commit(self, outputs: dict[str, Output], *, model_sha256: str | None = None) -> None:
        """Write every output to a temp file (a full disk stops here: nothing changed), mark the entry
        incomplete, rename them all, then mark it complete (the marker readers trust)."""
        staged: list[Staged] = []
        try:
            for name, data in outputs.items():
                staged.append(_stage(self.path(name), data))
            self.record(complete=False)
        except BaseException:
            for item in staged:
                item.discard()
            raise
        for item in staged:
            item.commit()
        if model_sha256 is not None:
            self.entry.model_sha256 = model_sha256
        self.record(complete=True)


def _stage(path: Path, data: Output) -> Staged:
    if isinstance(data, bytes):
        return stage(path, lambda tmp: tmp.write_bytes(data))
    if isinstance(data, str):
        return stage(path, lambda tmp: tmp.write_text(data, encoding="utf-8"))
    return stage(path, data)


class _Lock:
    """An exclusive fcntl lock on a file in the folder, removed again on release."""

    def __init__(self, path: Path, flag: str, out: Path) -> None:
        self.path, self.flag, self.out = path, flag, out
        self.fd: int | None = None

    def acquire(self, wait: bool) -> None:
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as err:
                raise WriteError(f"{self.flag} {self.out}: cannot create the lock file ({err.strerror})") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except OSError as err:
                holder = _read_pid(fd)
                os.close(fd)
                if err.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
                raise InputError(f"{self.flag} {self.out}: in use by another command{holder} (lock "
                                 f"{self.path.name}); wait for it to finish, or choose another folder") from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:  # not a lock file its previous holder removed meanwhile
                break
            os.close(fd)
        try:  # the holder's pid, for the message of a refused command (a full disk only loses the pid)
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError:
            pass
        self.fd = fd

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        except OSError:
            pass
        os.close(self.fd)  # closing releases the lock
        self.fd = None


def _read_pid(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode().strip()
    except OSError:
        return ""
    return f" (pid {text})" if text.isdigit() else ""


def _remove_empty(folder: Path, *leftovers: Path) -> None:
    """Remove a folder this command created, if nothing but `leftovers` is in it."""
    try:
        for item in leftovers:
            item.unlink(missing_ok=True)
        folder.rmdir()
    except OSError:
        pass
