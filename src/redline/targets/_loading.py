"""Load the model under test from an entry point and/or a weights file, never unpickling blindly.

Safe by default: ``torch.load`` only ever runs with ``weights_only=True`` and a
``torch.export`` archive is checked for pickled payloads or compiled code before it is
loaded, unless the caller passes ``allow_pickle=True`` (the CLI's ``--allow-pickle``).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import io
import json
import pickle
import pickletools
import re
import sys
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from redline.errors import InputError

__all__ = ["LoadedModel", "ModelFormat", "build_module", "load_model"]

ModelFormat = Literal["factory", "state_dict", "torchscript", "export", "pickle", "ensemble"]

_CHECKPOINT_KEYS = ("state_dict", "model_state_dict", "model")
_UNSAFE_GLOBAL = re.compile(r"GLOBAL \S+ was not an allowed global|is blocked|must be \S+ to load")
_OBJECT_OPS = frozenset({"GLOBAL", "STACK_GLOBAL", "INST", "OBJ"})
_PICKLE_SCAN_BYTES = 64 * 2**20
_PICKLE_HINT = "pass --allow-pickle only if you trust the file"


@dataclass(frozen=True)
class LoadedModel:
    """The loaded ``module`` (on the requested device) with where and how it came."""

    module: nn.Module
    source: str
    format: ModelFormat
    sha256: str | None


def _one_line(text: object, limit: int = 200) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _listed(names: list[str], one: str, many: str) -> str:
    shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
    return f"1 {one} ({shown})" if len(names) == 1 else f"{len(names)} {many} ({shown})"


def load_model(
    model: str | None,
    weights: str | Path | None,
    *,
    allow_pickle: bool = False,
    device: str = "cpu",
) -> LoadedModel:
    """Build ``model`` (``pkg.module:factory`` or ``file.py:factory``) and/or load ``weights``.

    Weights may be a state dict or checkpoint (needs ``model``), a TorchScript archive,
    a ``torch.export`` archive (``.pt2``), or, only with ``allow_pickle``, a pickled model.
    """
    dev = _device(device)
    if weights is None:
        if model is None:
            raise InputError("no model given: pass a module:factory entry point, weights, or both")
        return LoadedModel(_to_device(build_module(model), dev, model), model, "factory", None)
    path, source = Path(weights), str(weights)
    if not path.is_file():
        problem = "is a directory, not a weights file" if path.is_dir() else "no such file"
        raise InputError(f"{source}: {problem}")
    digest = _sha256(path)
    kind = _archive_kind(path)
    if kind is not None and model is not None:
        raise InputError(
            f"{source}: is a self-contained {kind} model; pass no model factory with it"
        )
    fmt: ModelFormat
    if kind == "torchscript":
        module, fmt = _load_torchscript(path, source, dev), "torchscript"
    elif kind == "export":
        module, fmt = _load_export(path, source, allow_pickle), "export"
    else:
        module, fmt = _load_torch_file(path, source, model, allow_pickle=allow_pickle, dev=dev)
    label = source if model is None else f"{model} + {source}"
    return LoadedModel(_to_device(module, dev, source), label, fmt, digest)


# --- entry points ----------------------------------------------------------------------


def build_module(spec: str) -> nn.Module:
    """Call the factory named by ``pkg.module:factory``, ``path/to/file.py:factory`` or
    ``zoo:NAME`` (one of redline's reference models, :mod:`redline.zoo`)."""
    target, sep, attr = spec.rpartition(":")
    if not sep or not target or not all(part.isidentifier() for part in attr.split(".")):
        raise InputError(
            f"{spec}: expected 'package.module:factory', 'path/to/file.py:factory' or 'zoo:NAME'"
        )
    if target == "zoo":
        attr = _zoo_name(spec, attr)
        target = "redline.zoo"
    obj: Any = _import_file(Path(target), spec) if target.endswith(".py") else _import(target, spec)
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise InputError(f"{spec}: {target!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise InputError(f"{spec}: {attr!r} is a {type(obj).__name__}, not a callable factory")
    try:
        module = obj()
    except Exception as exc:
        raise InputError(f"{spec}: calling {attr}() failed: {_describe(exc)}") from exc
    if not isinstance(module, nn.Module):
        raise InputError(
            f"{spec}: {attr}() returned {type(module).__name__}, not a torch.nn.Module"
        )
    return module


def _zoo_name(spec: str, name: str) -> str:
    """``name`` when it is a zoo model (``zoo:digits_cnn``); else the error lists them."""
    from redline.zoo import ZOO_MODELS

    if name not in ZOO_MODELS:
        known = ", ".join(f"zoo:{n}" for n in ZOO_MODELS)
        raise InputError(f"{spec}: unknown zoo model {name!r} (known: {known})")
    return name


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {_one_line(exc)}"


def _import(name: str, spec: str) -> Any:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        raise InputError(f"{spec}: cannot import {name!r} ({_one_line(exc)})") from exc
    except Exception as exc:
        raise InputError(f"{spec}: importing {name!r} failed: {_describe(exc)}") from exc


def _import_file(path: Path, spec: str) -> Any:
    if not path.is_file():
        raise InputError(f"{spec}: no such file {str(path)!r}")
    resolved = path.resolve()
    name = f"redline_user_{resolved.stem}_{hashlib.sha256(str(resolved).encode()).hexdigest()[:12]}"
    if name in sys.modules:
        return sys.modules[name]
    module_spec = importlib.util.spec_from_file_location(name, resolved)
    if module_spec is None or module_spec.loader is None:
        raise InputError(f"{spec}: cannot import {str(path)!r} as a Python module")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise InputError(f"{spec}: importing {str(path)!r} failed: {_describe(exc)}") from exc
    return module


# --- devices and digests ---------------------------------------------------------------


def _device(device: str) -> torch.device:
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise InputError(f"device {device!r}: not a valid torch device") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {device!r}: CUDA is not available on this machine")
    return dev


def _to_device(module: nn.Module, dev: torch.device, source: str) -> nn.Module:
    try:
        return module.to(dev)
    except (RuntimeError, AssertionError, ValueError) as exc:
        raise InputError(f"{source}: cannot move the model to {dev} ({_one_line(exc)})") from exc


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(2**20), b""):
            h.update(chunk)
    return h.hexdigest()


# --- archives: TorchScript and torch.export --------------------------------------------


def _zip_members(path: Path) -> dict[str, str]:
    """Zip member names without their top-level folder, mapped to the full name."""
    if not zipfile.is_zipfile(path):
        return {}
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return {}
    return {name.split("/", 1)[-1]: name for name in names}


def _archive_kind(path: Path) -> Literal["torchscript", "export"] | None:
    members = _zip_members(path)
    if "constants.pkl" in members:
        return "torchscript"
    if "archive_format" in members or "serialized_exported_program.json" in members:
        return "export"
    return "export" if path.suffix.lower() == ".pt2" else None


def _load_torchscript(path: Path, source: str, dev: torch.device) -> nn.Module:
    try:
        with warnings.catch_warnings():  # TorchScript is deprecated, but still what users ship
            warnings.filterwarnings("ignore", "`torch.jit.load`", DeprecationWarning)
            loaded: Any = torch.jit.load(str(path), map_location=dev)  # type: ignore[no-untyped-call]
    except Exception as exc:
        raise InputError(
            f"{source}: not a loadable TorchScript archive ({_one_line(exc)})"
        ) from exc
    if not isinstance(loaded, nn.Module):
        raise InputError(f"{source}: holds a TorchScript {type(loaded).__name__}, not a module")
    return loaded


def _load_export(path: Path, source: str, allow_pickle: bool) -> nn.Module:
    if not allow_pickle:
        hazard = _export_hazard(path, source)
        if hazard is not None:
            raise InputError(f"{source}: {hazard}; loading it runs arbitrary code — {_PICKLE_HINT}")
    try:
        module = torch.export.load(path).module()
    except Exception as exc:
        raise InputError(
            f"{source}: not a loadable torch.export archive ({_one_line(exc)})"
        ) from exc
    # The exported graph fixes train/eval behaviour; torch blocks .train()/.eval() on the
    # instance, which would break TorchTarget.session(). Restore the (flag-only) methods.
    vars(module).pop("train", None)
    vars(module).pop("eval", None)
    return module


def _export_hazard(path: Path, source: str) -> str | None:
    """Why loading this torch.export archive would unpickle or run native code, if it would."""
    members = _zip_members(path)
    if "archive_format" not in members:
        return "uses the legacy torch.export layout, which loads with pickle"
    try:
        with zipfile.ZipFile(path) as archive:
            for rel, full in members.items():
                hazard = _member_hazard(rel, archive, full)
                if hazard is not None:
                    return hazard
    except (zipfile.BadZipFile, OSError, ValueError, AttributeError, TypeError) as exc:
        raise InputError(
            f"{source}: not a loadable torch.export archive ({_one_line(exc)})"
        ) from exc
    return None


def _member_hazard(rel: str, archive: zipfile.ZipFile, full: str) -> str | None:
    if rel.startswith(("data/aotinductor/", "data/executorch/", "data/mtia")):
        return f"holds compiled code ({rel})"
    if rel.startswith(("data/weights/", "data/constants/")) and rel.endswith("_config.json"):
        entries = json.loads(archive.read(full)).get("config", {}).values()
        constants = rel.startswith("data/constants/")
        for entry in entries:
            if entry.get("use_pickle") or (
                constants and not str(entry.get("path_name", "")).startswith("tensor_")
            ):
                return f"stores pickled objects ({rel})"
    elif rel.endswith(".pt"):
        try:
            torch.load(io.BytesIO(archive.read(full)), weights_only=True)
        except Exception:
            return f"holds a payload that loads only with pickle ({rel})"
    return None


# --- torch.load: state dicts, checkpoints, pickled models ------------------------------


def _holds_objects(data: bytes) -> bool:
    """True when ``data`` parses as pickles (up to four in a row) that build objects."""
    stream, found = io.BytesIO(data), False
    for _ in range(4):
        try:
            found |= any(op.name in _OBJECT_OPS for op, _, _ in pickletools.genops(stream))
        except Exception:
            return False
        if found or stream.tell() >= len(data):
            return found
    return found


def _is_pickled_object(exc: pickle.UnpicklingError, path: Path) -> bool:
    """Whether a weights-only failure is a pickled object (not a corrupt file)."""
    if "Weights only load failed" in str(exc) and _UNSAFE_GLOBAL.search(str(exc)):
        return True
    members = _zip_members(path)
    try:
        if members:
            with zipfile.ZipFile(path) as archive:
                data = archive.read(members["data.pkl"]) if "data.pkl" in members else b""
        else:
            with path.open("rb") as handle:
                data = handle.read(_PICKLE_SCAN_BYTES)
    except (zipfile.BadZipFile, OSError, EOFError):
        return False
    return _holds_objects(data)


def _torch_load(
    path: Path, source: str, *, allow_pickle: bool, dev: torch.device
) -> tuple[Any, bool]:
    """``torch.load`` with weights only; with ``allow_pickle``, fall back to full unpickling."""
    with warnings.catch_warnings():  # noise about pickle protocols on legacy files
        warnings.filterwarnings("ignore", "Detected pickle protocol", UserWarning)
        try:
            return torch.load(path, weights_only=True, map_location=dev), False
        except pickle.UnpicklingError as exc:
            if not _is_pickled_object(exc, path):
                raise InputError(f"{source}: not a readable PyTorch file") from exc
            if not allow_pickle:
                raise InputError(
                    f"{source}: is a pickled object (e.g. a whole nn.Module); "
                    f"loading it runs arbitrary code — {_PICKLE_HINT}"
                ) from exc
        except Exception as exc:
            raise InputError(f"{source}: not a readable PyTorch file ({_describe(exc)})") from exc
        try:
            return torch.load(path, weights_only=False, map_location=dev), True
        except Exception as exc:
            raise InputError(f"{source}: unpickling failed ({_describe(exc)})") from exc


def _as_state_dict(obj: Any) -> Mapping[str, torch.Tensor] | None:
    def is_state(value: Any) -> bool:
        return isinstance(value, Mapping) and all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items()
        )

    if is_state(obj):
        return obj  # type: ignore[no-any-return]
    if isinstance(obj, Mapping):
        for key in _CHECKPOINT_KEYS:
            if key in obj and is_state(obj[key]):
                return obj[key]  # type: ignore[no-any-return]
    return None


def _load_torch_file(
    path: Path, source: str, model: str | None, *, allow_pickle: bool, dev: torch.device
) -> tuple[nn.Module, ModelFormat]:
    obj, pickled = _torch_load(path, source, allow_pickle=allow_pickle, dev=dev)
    fmt: ModelFormat = "pickle" if pickled else "state_dict"
    if isinstance(obj, nn.Module):
        if model is not None:
            raise InputError(f"{source}: holds a whole model; pass no model factory with it")
        return obj, fmt
    state = _as_state_dict(obj)
    if state is None:
        keys = ", ".join(_CHECKPOINT_KEYS)
        raise InputError(
            f"{source}: holds a {type(obj).__name__}, which is neither a model, a state dict, "
            f"nor a checkpoint dict with a state dict under one of: {keys}"
        )
    if model is None:
        raise InputError(
            f"{source}: holds only weights (a state dict); also pass the architecture "
            "as a model factory, e.g. --model package.module:factory"
        )
    module = build_module(model)
    _load_state(module, state, source, model)
    return module, fmt


def _load_state(
    module: nn.Module, state: Mapping[str, torch.Tensor], source: str, spec: str
) -> None:
    """``load_state_dict(strict=True)``, with one-line reports of what does not fit."""
    expected = module.state_dict()
    if (
        state
        and all(k.startswith("module.") for k in state)
        and not any(k.startswith("module.") for k in expected)
    ):
        state = {k.removeprefix("module."): v for k, v in state.items()}  # DataParallel
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in expected
        if k in state and state[k].shape != expected[k].shape
    ]
    problems = [
        _listed(names, one, many)
        for names, one, many in (
            (missing, "missing key", "missing keys"),
            (unexpected, "unexpected key", "unexpected keys"),
            (shapes, "shape mismatch", "shape mismatches"),
        )
        if names
    ]
    if problems:
        raise InputError(f"{source}: does not fit {spec}: {'; '.join(problems)}")
    try:
        module.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise InputError(f"{source}: does not fit {spec}: {_one_line(exc)}") from exc
