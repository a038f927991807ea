"""Output folders: one writer at a time, nothing deleted that persona-sim did not write.

Every command that writes a folder (``run``, ``sweep``, ``threshold``, the Python
``sweep(out=...)`` and the scenario scripts) opens it with :func:`open_output`, which

- takes a lock on the folder (:mod:`filelock`, an ``flock`` on ``DIR/.persona-sim.lock``
  that the kernel releases when its process dies, so a killed run never blocks the next
  one); a second writer is refused at once, with the holder named
  (``DIR/.persona-sim.holder``: its process id, command and start time);
- reads the folder's ``manifest.json``, the list of what persona-sim wrote there, and
  refuses a folder that holds anything else (unless it is empty), or a finished output
  unless the caller resumes it or overwrites it;
- for an overwrite, writes the new output under ``DIR/.persona-sim-next/`` and keeps the
  old one whole until :meth:`Output.commit`, which deletes the old output's files (those
  listed in its manifest, and only those) and moves the new ones into place, so a
  kill at any moment leaves either the old output or the new one, never a mixture, and
  no figure of an earlier sweep of another shape.

"Wrote" means listed in a persona-sim manifest in that folder: ``files`` (top-level
names), plus the sweep's part files (``parts/chunk-NNNNNN.parquet`` and their
``.sha256`` records) and the leftovers of an atomic write that a kill interrupted
(``.NAME.*.part``, ``.chunk-*.tmp``; a sweep's unfinished table is
``.results.parquet.writing.part``).

Without an explicit folder, :func:`new_folder` makes a fresh one named by the time
(``results/sweep-20261202-014512``), so running a command twice keeps both outputs.

Examples
--------
>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> with open_output(root / "out", "run") as output:
...     _ = (output.work / "summary.json").write_text("{}")
...     output.commit({"files": ["summary.json"]})
>>> sorted(p.name for p in (root / "out").iterdir() if not p.name.startswith("."))
['manifest.json', 'summary.json']
>>> with open_output(root / "out", "run") as output:
...     pass
Traceback (most recent call last):
...
sim.params.ParameterError: output folder '...out' holds a finished run: allowed is --overwrite (replace it) or another --out
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from .files import json_default, write_atomically
from .params import ParameterError

__all__ = ["Output", "open_output", "new_folder", "read_manifest", "MANIFEST", "KINDS"]

MANIFEST = "manifest.json"
LOCK = ".persona-sim.lock"
HOLDER = ".persona-sim.holder"
STAGING = ".persona-sim-next"
PARTS = "parts"
#: The kinds of output a folder can hold; a folder holds one kind.
KINDS = ("sweep", "run", "figures", "sensitivity")
#: Every file a sweep folder can hold (the table, the thresholds, the figures): what
#: its manifest lists while they are being written, and what a manifest written
#: before manifests listed their files (persona-sim 0.1.0) stands for.
SWEEP_FILES = ("results.parquet", "thresholds.csv", "p_rebel.png", "phase_diagram.png", "uplift.png",
                       "emergence.png", "finite_size.png")
_PART = re.compile(r"^(chunk-\d{6}\.(parquet|sha256)|\.chunk-\d{6}\.parquet\.tmp|\.chunk-\d{6}\.sha256\..*\.part)$")
_LEFTOVER = re.compile(r"^\..+\.[A-Za-z0-9_]+\.part$")  # what sim.files.write_atomically leaves if killed


def read_manifest(folder: Path) -> dict | None:
    """The folder's manifest, or None when it has none; a manifest that cannot be read
    is an error naming it."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ParameterError(f"{path} is not a readable persona-sim manifest ({_reason(err)}): "
                             "allowed is the manifest.json a persona-sim command wrote") from None
    if not isinstance(data, dict):
        raise ParameterError(f"{path} is not a persona-sim manifest (not a JSON object): "
                             "allowed is the manifest.json a persona-sim command wrote")
    return data


def _kind(manifest: dict) -> str | None:
    kind = manifest.get("kind")
    if kind is None and "fingerprint" in manifest:  # a sweep from before manifests had a kind
        return "sweep"
    return kind if kind in KINDS else None


def _listed(manifest: dict) -> set[str]:
    files = manifest.get("files")
    if files is None and _kind(manifest) == "sweep":
        return set(SWEEP_FILES)
    if isinstance(files, dict):  # figures folders: files per script
        return {f for names in files.values() for f in names}
    return {str(f) for f in files or ()}


def _reason(err: BaseException) -> str:
    return getattr(err, "strerror", None) or str(err) or type(err).__name__


@dataclass
class Output:
    """An output folder held by this process.

    Attributes
    ----------
    folder : Path
        The folder the user named (or :func:`new_folder` made).
    work : Path
        Where this command writes: ``folder`` itself, or ``folder/.persona-sim-next``
        while an overwrite (or its resume) keeps the old output in place.
    kind : str
        ``"sweep"``, ``"run"`` or ``"figures"``.
    previous : dict or None
        The manifest of the output the folder held (None: new or empty folder).
    current : dict or None
        The manifest found in ``work`` when resuming (None otherwise).
    """

    folder: Path
    work: Path
    kind: str
    previous: dict | None = None
    current: dict | None = None
    committed: bool = field(default=False, init=False)

    @property
    def staged(self) -> bool:
        return self.work != self.folder

    def write_manifest(self, manifest: dict) -> None:
        """Write ``work/manifest.json`` (atomically), marked with this folder's kind."""
        data = {"kind": self.kind, **manifest}
        data.setdefault("files", [])
        text = json.dumps(data, indent=2, allow_nan=False, default=json_default) + "\n"
        write_atomically(self.work / MANIFEST, text.encode())

    def commit(self, manifest: dict) -> None:
        """Finish the output: write its manifest (``files`` lists what it wrote) and,
        when it was staged, replace the old output by it.

        The old output's files (listed in its manifest) are deleted, the new ones
        renamed into ``folder``, the new manifest last; nothing else in the folder is
        touched. A ``figures`` folder is shared by the scenario scripts: ``files``
        maps a script to its figures, and a commit replaces that script's entry (and
        deletes only that script's old figures).
        """
        manifest = dict(manifest)
        files = manifest.get("files", [])
        if self.kind == "figures":
            previous = dict((self.previous or {}).get("files") or {})
            old = {f for name in files for f in previous.get(name, [])}
            new = {f for names in files.values() for f in names}
            manifest["files"] = {**previous, **{k: sorted(v) for k, v in files.items()}}
            keep = {f for name, names in manifest["files"].items() if name not in files for f in names}
            stale = old - new - keep
        else:
            manifest["files"] = [str(f) for f in files]
            new = set(manifest["files"])
            stale = _listed(self.previous or {}) - new
        if not self.staged:
            self.write_manifest(manifest)
            self.committed = True
            return
        for name in sorted(stale):
            _unlink(self.folder / name)
        if self.previous is not None:  # what a killed command of the old output left: parts, unfinished files
            _remove_leftovers(self.folder)
        for name in sorted(new):
            if (self.work / name).exists():
                os.replace(self.work / name, self.folder / name)
        self.write_manifest(manifest)
        os.replace(self.work / MANIFEST, self.folder / MANIFEST)
        _remove_ours(self.work, self.current or {})
        _rmdir(self.work / PARTS)
        _rmdir(self.work)
        self.work = self.folder
        self.committed = True


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def _rmdir(path: Path) -> None:
    """Remove a folder if it is empty (a user's file in it keeps it)."""
    try:
        path.rmdir()
    except OSError:
        pass


def _ours(folder: Path, manifest: dict | None) -> tuple[list[str], list[str]]:
    """The entries of ``folder`` that a persona-sim output with this manifest wrote,
    and the others (a user's files)."""
    listed = _listed(manifest) if manifest else set()
    mine, foreign = [], []
    for entry in sorted(os.listdir(folder)):
        path = folder / entry
        if entry in (LOCK, HOLDER):
            mine.append(entry)
        elif manifest is not None and (entry in listed or entry == MANIFEST or _LEFTOVER.match(entry)):
            mine.append(entry)
        elif manifest is not None and entry == PARTS and path.is_dir() and not path.is_symlink():
            stray = [p for p in os.listdir(path) if not _PART.match(p)]
            (foreign if stray else mine).append(entry if not stray else f"{PARTS}/{stray[0]}")
        elif entry == STAGING and path.is_dir() and not path.is_symlink():
            staged = read_manifest(path)
            _, other = _ours(path, staged) if staged is not None else ([], [e for e in os.listdir(path)
                                                                         if e not in (PARTS,)])
            if staged is None and (path / PARTS).is_dir():
                other += [f"{PARTS}/{p}" for p in os.listdir(path / PARTS) if not _PART.match(p)]
            (foreign if other else mine).append(entry if not other else f"{STAGING}/{other[0]}")
        else:
            foreign.append(entry)
    return mine, foreign


def _remove_ours(folder: Path, manifest: dict) -> None:
    """Delete what a persona-sim output wrote in ``folder`` (its listed files, parts and
    leftovers of interrupted writes); nothing else."""
    if not folder.is_dir():
        return
    for name in _listed(manifest) | {MANIFEST}:
        _unlink(folder / name)
    _remove_leftovers(folder)


def _remove_leftovers(folder: Path) -> None:
    """Delete the leftovers of interrupted writes in ``folder`` and a sweep's part files
    (``parts/``, removed when that leaves it empty); nothing else."""
    for entry in os.listdir(folder):
        if _LEFTOVER.match(entry):
            _unlink(folder / entry)
    parts = folder / PARTS
    if parts.is_dir():
        for entry in os.listdir(parts):
            if _PART.match(entry):
                _unlink(parts / entry)
        _rmdir(parts)


def new_folder(kind: str, root: str | Path = "results") -> Path:
    """A new folder for an output of ``kind``, named by the time: ``ROOT/KIND-YYYYMMDD-HHMMSS``
    (``-2``, ``-3``, ... when that exists). Made here, so two commands started in the
    same second get two folders.
    """
    root = Path(root)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ParameterError(f"output folder {str(root)!r} cannot be made ({_reason(err)}): "
                             "allowed is a folder you can write (or --out DIR)") from None
    for n in range(1, 10_000):
        path = root / (f"{kind}-{stamp}" if n == 1 else f"{kind}-{stamp}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
        except OSError as err:
            raise ParameterError(f"output folder {str(path)!r} cannot be made ({_reason(err)}): "
                                 "allowed is a folder you can write (or --out DIR)") from None
    raise ParameterError(f"no free output folder name under {str(root)!r}: allowed is --out DIR")  # pragma: no cover


def _holder_text(command: str | None) -> str:
    return json.dumps({"pid": os.getpid(), "command": command or " ".join(sys.argv),
                       "since": time.strftime("%Y-%m-%d %H:%M:%S")})


def _describe_holder(folder: Path) -> str:
    try:
        holder = json.loads((folder / HOLDER).read_text())
        return f"pid {holder['pid']}, {holder['command']!r}, since {holder['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "holder unknown"


def _make_folder(folder: Path) -> list[Path]:
    """Make ``folder`` and its missing parents; return those made (deepest last)."""
    made = []
    for path in reversed([folder, *folder.parents]):
        if not path.exists():
            made.append(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ParameterError(f"output folder {str(folder)!r} cannot be made ({_reason(err)}): "
                             "allowed is a folder you can write") from None
    return made


@contextmanager
def open_output(
    folder: str | Path,
    kind: str,
    mode: str = "new",
    match: Callable[[dict], bool] | None = None,
    command: str | None = None,
    fresh: bool = False,
) -> Iterator[Output]:
    """Hold an output folder while a command writes it.

    Parameters
    ----------
    folder : path
        The folder named by the user (made if missing, with its parents).
    kind : {"sweep", "run", "figures", "sensitivity"}
    mode : {"new", "overwrite", "resume", "update", "add"}
        ``new``: the folder must be new or empty (a finished or unfinished output of
        the same kind is refused: resume it, overwrite it, or choose another folder).
        ``overwrite``: as ``new``, but an output of the same kind is replaced once the
        new one is committed (the new one is written under ``.persona-sim-next/``).
        ``resume``: continue the output whose manifest ``match`` accepts, in the
        folder or under ``.persona-sim-next/`` (an overwrite that was interrupted).
        ``update``: add files to the folder's finished output (``threshold``).
        ``add``: for ``figures``, a folder the scenario scripts share: new, empty or
        holding figures; the new ones are staged until the commit.
    match : callable, optional
        For ``resume``: does a manifest describe the same work?
    command : str, optional
        Shown to a second writer that is refused.
    fresh : bool
        The folder was just made for this command (:func:`new_folder`): remove it
        again if the command ends without writing anything.

    Raises
    ------
    ParameterError
        One line naming the folder and what is allowed: the folder cannot be made or
        written, is a file, is in use by another persona-sim (named), holds files that
        persona-sim did not write, holds a finished output (``new``), holds nothing to
        resume or update.
    """
    from filelock import FileLock, Timeout

    if kind not in KINDS:  # pragma: no cover - a programming error
        raise ValueError(f"kind {kind!r}")
    text = str(folder)
    if not text.strip():
        raise ParameterError("--out '' is not allowed: allowed is a folder path (new, empty, or a persona-sim output)")
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ParameterError(f"--out {text!r} is a file: allowed is a folder (new, empty, or a persona-sim output)")
    if mode == "resume" and not folder.is_dir():
        raise ParameterError(f"--resume: {text!r} holds no {kind} to resume (there is no such folder)")
    if mode == "update" and not folder.is_dir():
        raise ParameterError(f"output folder {text!r} does not exist: allowed is a folder holding a finished "
                             f"persona-sim {kind}")
    made = _make_folder(folder) + ([folder] if fresh else [])
    lock_was_there = (folder / LOCK).exists()
    lock = FileLock(folder / LOCK, timeout=0)
    try:
        try:
            lock.acquire()
        except Timeout:
            raise ParameterError(
                f"output folder {text!r} is in use by another persona-sim ({_describe_holder(folder)}): allowed is "
                "one writer per folder: wait for it to finish, or choose another --out") from None
        except OSError as err:
            raise ParameterError(f"output folder {text!r} cannot be written ({_reason(err)}): "
                                 "allowed is a folder you can write") from None
        try:
            write_atomically(folder / HOLDER, _holder_text(command).encode())
            try:
                output = _inspect(folder, kind, mode, match, text)
            except ParameterError:
                if not lock_was_there:  # refused: leave the folder as it was
                    lock.release()
                    _unlink(folder / LOCK)
                raise
            try:
                yield output
            finally:
                if output.staged and not output.committed:
                    _rmdir(output.work)  # an overwrite that wrote nothing leaves nothing
        finally:
            _unlink(folder / HOLDER)
            lock.release()
    except BaseException:
        _undo_made(made)
        raise
    else:
        _undo_made(made)


def _undo_made(made: list[Path]) -> None:
    """Remove the folders this command made if nothing but its lock is in them."""
    for path in reversed(made):
        try:
            entries = set(os.listdir(path))
        except OSError:
            continue
        if entries <= {LOCK}:
            _unlink(path / LOCK)
            _rmdir(path)


def _inspect(folder: Path, kind: str, mode: str, match, text: str) -> Output:
    previous = read_manifest(folder)
    mine, foreign = _ours(folder, previous)
    owned_kind = _kind(previous) if previous is not None else None
    if previous is not None and owned_kind != kind:
        what = f"a persona-sim {owned_kind}" if owned_kind else "a manifest.json that is not persona-sim's"
        raise ParameterError(f"output folder {text!r} holds {what}: allowed for a {kind} is an empty or new "
                             f"folder, or one holding a persona-sim {kind}")
    if foreign and mode != "resume":
        raise ParameterError(
            f"output folder {text!r} is not empty and holds {foreign[0]!r}, which persona-sim did not write: "
            f"allowed is a new or empty folder, or one holding only a persona-sim {kind}")
    staged = read_manifest(folder / STAGING) if (folder / STAGING).is_dir() else None
    if mode == "resume":
        if previous is not None and match(previous):
            return Output(folder, folder, kind, previous=previous, current=previous)
        if staged is not None and _kind(staged) == kind and match(staged):
            return Output(folder, folder / STAGING, kind, previous=previous, current=staged)
        if previous is None and staged is None:
            raise ParameterError(f"--resume: {text!r} holds no {kind} to resume (no readable manifest.json)")
        raise ParameterError(
            f"--resume: {text!r} holds a different {kind} (parameters, grid, replicates or seed differ): "
            "allowed is the same command, or a new --out")
    if mode == "update":
        if previous is None or not previous.get("complete"):
            raise ParameterError(f"output folder {text!r} holds no finished {kind}: allowed is a folder with a "
                                 f"finished persona-sim {kind} (run it, or --resume it)")
        return Output(folder, folder, kind, previous=previous)
    nothing_kept = not [e for e in mine if e not in (LOCK, HOLDER)]
    if nothing_kept:
        return Output(folder, folder, kind)
    if mode in ("overwrite", "add"):
        staging = folder / STAGING
        if staging.is_dir():
            _remove_ours(staging, staged or {})
        staging.mkdir(exist_ok=True)
        if previous is None:  # only leftovers of an interrupted overwrite, or of a write: start afresh
            return Output(folder, staging, kind, previous={"files": []})
        return Output(folder, staging, kind, previous=previous)
    state = "a finished" if previous is not None and previous.get("complete", True) else "an unfinished"
    if kind == "sweep":
        allowed = "--resume (finish or reuse it), --overwrite (replace it) or another --out"
    else:
        allowed = "--overwrite (replace it) or another --out"
    raise ParameterError(f"output folder {text!r} holds {state} {kind}: allowed is {allowed}")
