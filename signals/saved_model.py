"""The fitted model a live run uses, saved with a manifest that says exactly what it is.

A folder (``<catalog>/signals/<instrument>/model/``, :func:`signals.paths.saved_model_dir`) holds
``manifest.json`` and the model file it names, ``<model_version>-<sha256 prefix>.joblib``. The
manifest records the model version, the feature list in column order, the config, the training
window, the library versions and the file's SHA-256.

Why this shape:

- **Atomic swap.** Each model file is written once under a content-addressed name (temp file,
  fsync, rename); the manifest is then replaced by a rename as well. The manifest's rename is the
  single commit point: a reader sees either the old manifest and old file or the new pair, and a
  crash anywhere before it leaves the old model in force.
- **Refusal over surprise.** A pickle is only faithful to the code and libraries that wrote it, and
  a model is only meaningful with the features it was trained on. :func:`load_model` refuses, with
  a message naming what differs, a model whose feature list, model version (feature version and
  config digest) or library versions differ from the running process, or whose bytes do not hash
  to the manifest's value. The bytes are hashed before they are unpickled, and only files this
  module wrote are ever loaded (joblib files are pickles: never load one from elsewhere).
"""

from __future__ import annotations

import hashlib
import io
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path

import joblib
import msgspec
import numpy as np
import sklearn
from sklearn.ensemble import HistGradientBoostingClassifier

from signals.config import SignalConfig
from signals.features import FEATURES
from signals.model import model_version
from signals.walkforward import FittedModel

MANIFEST_FILE = "manifest.json"
MODEL_SUFFIX = ".joblib"


class SavedModelError(RuntimeError):
    """A saved model is missing, unreadable or does not match the running code (message says why)."""


class ModelManifest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What a saved model is: enough to refuse a mismatch and to stamp its predictions."""

    model_version: str
    features: tuple[str, ...]
    """Input columns in the order the model was fitted on."""
    config: SignalConfig
    window_start_ns: int
    """First bar the model may predict: every training label is known before it."""
    next_window_ns: int
    """The schedule's next window start: from then on a newer fit is due (``signals retrain``)."""
    train_start_ns: int
    train_end_ns: int
    """Latest label end in the training set (the ``train_end_ns`` of its predictions)."""
    train_samples: int
    libraries: dict[str, str]
    file: str
    sha256: str


@dataclass(frozen=True)
class LoadedModel:
    model: HistGradientBoostingClassifier
    manifest: ModelManifest


def library_versions() -> dict[str, str]:
    """The versions a saved model must be loaded under (those that wrote it)."""
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "joblib": joblib.__version__,
    }


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old content or the new, never a part."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_manifest(folder: Path) -> ModelManifest | None:
    """The folder's manifest (None if there is none yet); no compatibility check."""
    path = Path(folder) / MANIFEST_FILE
    if not path.is_file():
        return None
    try:
        return msgspec.json.decode(path.read_bytes(), type=ModelManifest)
    except (msgspec.ValidationError, msgspec.DecodeError, ValueError) as e:
        raise SavedModelError(f"{path} is not a readable model manifest: {e}") from e


def intern_strings(model: object) -> None:
    """Give the model and every scikit-learn object inside it interned attribute names and string
    values (in place), so that one fit pickles to the same bytes in any process.

    A pickle writes a string once and refers back to it when the same *object* comes again, so
    its bytes depend on which equal strings are one object. That depends on the process: a
    class's instances share one table of attribute names, made by its first instance, and in a
    process that loaded a saved model before (``signals retrain``, a test run) that instance came
    from unpickling, whose strings are not interned. A parameter value such as ``scoring="loss"``
    was then one object with the name ``loss`` after a fresh start and another after a load, and
    the file's name and hash changed with it. Interned, equal strings are one object everywhere.
    """
    stack, seen = [model], set()
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif type(item).__module__.startswith("sklearn.") and isinstance(
            state := getattr(item, "__dict__", None), dict
        ):
            item.__dict__ = {sys.intern(k): sys.intern(v) if type(v) is str else v for k, v in state.items()}
            stack.extend(state.values())


def save_model(folder: Path, fitted: FittedModel, config: SignalConfig) -> ModelManifest:
    """Save ``fitted`` as the folder's current model (atomically; the previous one is kept until the
    next save, so a reader that read the old manifest can still open its file)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    intern_strings(fitted.model)
    joblib.dump(fitted.model, buffer, compress=3)
    data = buffer.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    version = model_version(config)
    name = f"{version}-{digest[:16]}{MODEL_SUFFIX}"
    window = fitted.window
    manifest = ModelManifest(
        model_version=version,
        features=FEATURES,
        config=config,
        window_start_ns=window.start_ns,
        next_window_ns=fitted.next_start_ns,
        train_start_ns=window.train_start_ns,
        train_end_ns=window.train_end_ns,
        train_samples=window.train_samples,
        libraries=library_versions(),
        file=name,
        sha256=digest,
    )
    previous = read_manifest(folder) if (folder / MANIFEST_FILE).is_file() else None
    atomic_write(folder / name, data)
    atomic_write(folder / MANIFEST_FILE, msgspec.json.format(msgspec.json.encode(manifest)) + b"\n")
    keep = {name} | ({previous.file} if previous is not None else set())
    for stale in folder.glob(f"*{MODEL_SUFFIX}"):
        if stale.name not in keep:
            stale.unlink(missing_ok=True)
    return manifest


def _mismatches(manifest: ModelManifest, config: SignalConfig | None) -> list[str]:
    problems = []
    if tuple(manifest.features) != FEATURES:
        added = [f for f in FEATURES if f not in manifest.features]
        dropped = [f for f in manifest.features if f not in FEATURES]
        detail = f"added {added}, dropped {dropped}" if added or dropped else "same names, another order"
        problems.append(f"feature list differs from the running code's ({detail})")
    running = model_version(manifest.config)
    if manifest.model_version != running:
        problems.append(
            f"model version {manifest.model_version} differs from {running}, the version this code gives "
            "its config (the feature definitions or the config's meaning changed)"
        )
    if config is not None and model_version(config) != manifest.model_version:
        problems.append(
            f"model version {manifest.model_version} differs from the expected config's "
            f"{model_version(config)}"
        )
    current = library_versions()
    for lib in sorted(set(manifest.libraries) | set(current)):
        saved, now = manifest.libraries.get(lib), current.get(lib)
        if saved != now:
            problems.append(f"{lib} {saved} saved, {now} running")
    return problems


def load_model(folder: Path, config: SignalConfig | None = None) -> LoadedModel:
    """The folder's current model, checked against the running code (and ``config`` if given).

    Raises :class:`SavedModelError` naming every difference; never unpickles unverified bytes.
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest is None:
        raise SavedModelError(
            f"no saved model in {folder}: run `python -m signals build` or `python -m signals retrain`"
        )
    problems = _mismatches(manifest, config)
    if problems:
        raise SavedModelError(f"refusing the model in {folder}: " + "; ".join(problems))
    path = folder / manifest.file
    try:
        data = path.read_bytes()
    except OSError as e:
        raise SavedModelError(
            f"the manifest in {folder} names {manifest.file}, which cannot be read: {e}"
        ) from e
    if hashlib.sha256(data).hexdigest() != manifest.sha256:
        raise SavedModelError(f"{path} does not hash to the manifest's sha256: refusing a changed file")
    model = joblib.load(io.BytesIO(data))
    if not isinstance(model, HistGradientBoostingClassifier):
        raise SavedModelError(f"{path} holds a {type(model).__name__}, not the expected classifier")
    return LoadedModel(model, manifest)


class ModelWatcher:
    """A folder's current model for a long-running process: :meth:`refresh` reloads it when the
    manifest was replaced (one ``stat`` per call), so a retrain reaches a running predictor."""

    def __init__(self, folder: Path, config: SignalConfig | None = None) -> None:
        self.folder = Path(folder)
        self._stamp = self._manifest_stamp()
        self.loaded = load_model(self.folder, config)

    def _manifest_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.folder / MANIFEST_FILE)
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def refresh(self) -> bool:
        """True when a replaced manifest brought a new model. A new model failing its checks (or
        for another model version) raises :class:`SavedModelError` once and the current one stays."""
        stamp = self._manifest_stamp()
        if stamp is None or stamp == self._stamp:
            return False
        self._stamp = stamp
        new = load_model(self.folder, self.loaded.manifest.config)
        changed = new.manifest != self.loaded.manifest
        self.loaded = new
        return changed
