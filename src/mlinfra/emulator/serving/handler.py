"""Answer requests inside a worker: the model's own inference script, else the defaults.

As SageMaker's scikit-learn container does (sagemaker-scikit-learn-container ``serving.py``
``_user_module_transformer``; sagemaker-containers ``_transformer.Transformer``), the script's
hooks are used where it defines them and the defaults where it does not:
``model_fn(model_dir)``, ``input_fn(body, content_type)``, ``predict_fn(data, model)``,
``output_fn(prediction, accept)``, or one ``transform_fn(model, body, content_type, accept)``
in place of the last three (defining it beside any of them fails the load, as there).
The defaults are the emulator's own (``codec``): ``model.joblib`` loaded with joblib, CSV or
JSON rows in, positive-class probabilities out. Details, and where the emulator differs:

- Hooks get the body as text for JSON, CSV and ``*/*`` and as bytes otherwise, as the
  container's ``_worker.Request.content`` does, and ``accept`` as the request's Accept, else
  ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT``, else ``application/json`` (``Request.accept``).
  The default output keeps the emulator's rule: without an Accept, the request's type.
- An output hook returns a body (str or bytes, sent with the accept type) or a
  ``(body, content_type)`` tuple (``Transformer.transform``); the container's Flask
  ``Response`` objects do not exist here.
- A hook that raises answers 500 with its exception's type and message, which the client
  sees as SageMaker's ModelError.

This module runs in the worker process only: it imports numpy, pandas and the user's script.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

import mlinfra.emulator.serving.codec as codec
from mlinfra.emulator.serving.model_data import Setup

HOOKS = ("model_fn", "input_fn", "predict_fn", "output_fn", "transform_fn")
DEFAULT_ACCEPT = "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"
TEXT_TYPES = (codec.JSON, codec.CSV, "*/*")  # the container hands these to input_fn as text
MODULE_NAME = "_mlinfra_inference_program"  # private, so it never shadows a user module


class HookError(Exception):
    """A hook of the inference script raised: the container answers 500 with this text."""


class Handler:
    """A loaded model and the functions that turn a request into a response with it."""

    def __init__(self, setup: Setup) -> None:
        self._default_accept = setup.environment.get(DEFAULT_ACCEPT) or None
        self._hooks = _hooks(import_script(Path(setup.script))) if setup.script else {}
        beside = [h for h in ("input_fn", "predict_fn", "output_fn") if h in self._hooks]
        if "transform_fn" in self._hooks and beside:
            raise ValueError(
                f"{setup.script} defines transform_fn and {', '.join(beside)}: the container "
                "takes transform_fn alone, or the other hooks without it"
            )
        if "model_fn" in self._hooks:
            self.model = self._hook("model_fn", setup.model_dir)
        elif setup.model_file is not None:
            import joblib

            self.model = joblib.load(setup.model_file)
            _single_threaded(self.model)
        else:
            raise FileNotFoundError(
                f"no model.joblib in {setup.model_dir}, and {setup.script} defines no model_fn"
            )
        self._features = _features(self.model, setup.features_file)
        # joblib refuses nested process pools in a daemon process, and warns on every call.
        warnings.filterwarnings("ignore", message="Loky-backed parallel loops cannot be called")

    def __call__(self, body: bytes, content_type: str, accept: str | None) -> tuple[bytes, str]:
        """The response body and its content type; raises codec.RequestError or HookError."""
        hook_accept = accept or self._default_accept or codec.JSON
        if "transform_fn" in self._hooks:
            text = _content(body, content_type)
            result = self._hook("transform_fn", self.model, text, content_type, hook_accept)
            return _response(result, hook_accept, "transform_fn")
        if "input_fn" in self._hooks:
            data = self._hook("input_fn", _content(body, content_type), content_type)
        else:
            data = codec.decode(body, content_type, self._features)
        if "predict_fn" in self._hooks:
            prediction = self._hook("predict_fn", data, self.model)
        else:
            prediction = codec.predict(self.model, data)
        if "output_fn" in self._hooks:
            result = self._hook("output_fn", prediction, hook_accept)
            return _response(result, hook_accept, "output_fn")
        return codec.encode(np.asarray(prediction), accept or self._default_accept, content_type)

    def _hook(self, name: str, *args: Any) -> Any:
        try:
            return self._hooks[name](*args)
        except Exception as exc:
            raise HookError(f"{name} raised {type(exc).__name__}: {exc}") from exc


def import_script(path: Path) -> ModuleType:
    """Import the inference script under a private name, with its folder first on sys.path so
    it can import its siblings (the container installs the submit directory as a package)."""
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(MODULE_NAME, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = module  # dataclasses and pickle look a module up here
    try:
        spec.loader.exec_module(module)
    except SystemExit as exc:
        # Typically argparse: a training script doubling as the inference script that trains
        # at import. SageMaker's container fails the same way, with less said.
        raise ImportError(
            f"{path.name} exited while being imported (exit code {exc.code}): serving imports "
            'it for its hooks, so its training code belongs under `if __name__ == "__main__":`'
        ) from None
    return module


def _hooks(module: ModuleType) -> dict[str, Callable[..., Any]]:
    return {name: fn for name in HOOKS if callable(fn := getattr(module, name, None))}


def _content(body: bytes, content_type: str | None) -> str | bytes:
    if codec.media_type(content_type) in TEXT_TYPES:
        return body.decode("utf-8", errors="replace")  # as werkzeug's get_data(as_text=True)
    return body


def _response(result: Any, accept: str, hook: str) -> tuple[bytes, str]:
    content_type = accept
    if isinstance(result, tuple) and len(result) == 2:
        result, content_type = result
    if isinstance(result, str):
        result = result.encode("utf-8")
    if not isinstance(result, bytes | bytearray) or not isinstance(content_type, str):
        raise HookError(
            f"{hook} returned {type(result).__name__}: return str or bytes, or a "
            "(body, content_type) tuple"
        )
    return bytes(result), content_type


def _single_threaded(model: Any) -> None:
    # A worker answers one request at a time and parallelism comes from instance_count; a
    # thread pool per prediction only adds latency on small batches. Only for models the
    # default handler loads: a model_fn's model is served as the script made it.
    get_params = getattr(model, "get_params", None)
    if get_params is None:
        return
    try:
        names = [k for k in get_params(deep=True) if k == "n_jobs" or k.endswith("__n_jobs")]
        if names:
            model.set_params(**dict.fromkeys(names, 1))
    except Exception:  # noqa: S110 - a model that refuses is served as it is
        pass


def _features(model: Any, features_path: str | None) -> list[str] | None:
    if features_path:
        names = json.loads(Path(features_path).read_text())
        if not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
            raise ValueError(f"{features_path} must hold a JSON list of column names")
        return names
    # A model fitted on a DataFrame remembers its columns; use them to name CSV columns.
    names = getattr(model, "feature_names_in_", None)
    return [str(n) for n in names] if names is not None else None
