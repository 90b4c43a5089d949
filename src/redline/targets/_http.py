"""Black-box target behind an HTTP endpoint: JSON rows in, scores or labels out.

Every row sent is a query and is counted against ``budget`` before it leaves; requests
are spaced to ``rate`` per second and retried (connection errors, 429, 5xx) with
exponential back-off that honours ``Retry-After``. Headers (e.g. a token) are sent but
never logged or put in an error message.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import torch

from redline.errors import InputError, RedlineError
from redline.targets._base import Target
from redline.targets._scores import (
    Scores,
    labels_to_logits,
    margins_to_logits,
    probabilities_to_logits,
)

__all__ = ["EndpointError", "HttpTarget", "QueryBudgetError"]

_KEYS: dict[str, Scores] = {
    "probabilities": "probabilities",
    "probs": "probabilities",
    "scores": "logits",
    "logits": "logits",
    "labels": "labels",
    "predictions": "labels",
}
"""Response keys looked for, in this order, and what each one holds."""
_RETRY_STATUS = {429, 500, 502, 503, 504}
_MAX_WAIT = 30.0


class QueryBudgetError(RedlineError):
    """The next request would exceed the endpoint's query budget: nothing was sent."""


class EndpointError(InputError):
    """The endpoint cannot be used: unreachable, not JSON, or the wrong shape of answer."""


class HttpTarget(Target):
    """POST ``{input_key: rows}``; the answer is a JSON object with ``output_key`` (or
    the first of probabilities / probs / scores / logits / labels / predictions) or a
    bare list. ``scores`` overrides what the key implies; label-only needs ``n_classes``.
    """

    def __init__(
        self,
        url: str,
        *,
        budget: int,
        n_classes: int | None = None,
        bounds: tuple[float, float] = (-float("inf"), float("inf")),
        input_key: str = "inputs",
        output_key: str | None = None,
        scores: Scores | None = None,
        batch_size: int = 256,
        rate: float | None = None,
        retries: int = 3,
        timeout: float = 10.0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(bounds=bounds)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InputError(f"endpoint must be an http(s) URL, got {url!r}")
        if budget < 1 or batch_size < 1 or retries < 0 or timeout <= 0:
            raise InputError("budget and batch_size must be >= 1, retries >= 0, timeout > 0")
        if rate is not None and rate <= 0:
            raise InputError(f"rate must be > 0 requests per second, got {rate}")
        self.url, self.budget, self.n_classes = url, int(budget), n_classes
        self.input_key, self.output_key, self.scores = input_key, output_key, scores
        self.batch_size, self.rate, self.retries, self.timeout = batch_size, rate, retries, timeout
        self._headers = {"Content-Type": "application/json", **dict(headers or {})}
        self.queries = 0
        self.requests = 0
        self.retried = 0
        self._last = 0.0

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    @property
    def label_only(self) -> bool:
        return self.scores == "labels"

    @property
    def remaining(self) -> int:
        """Queries (rows) left in the budget."""
        return self.budget - self.queries

    def __repr__(self) -> str:  # no headers: they may hold a token
        return f"HttpTarget({self.url!r}, budget={self.budget}, queries={self.queries})"

    def probe(self, row: np.ndarray) -> int:
        """Send one row to learn what the endpoint answers; returns its number of classes."""
        logits = self.logits(torch.as_tensor(row, dtype=torch.float32).reshape(1, -1))
        return int(logits.shape[1])

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.detach().cpu().double().reshape(len(x), -1).numpy()
        parts = [
            self._ask(rows[i : i + self.batch_size]) for i in range(0, len(rows), self.batch_size)
        ]
        return torch.cat(parts) if parts else torch.zeros(0, self.n_classes or 2)

    def _ask(self, rows: np.ndarray) -> torch.Tensor:
        if self.queries + len(rows) > self.budget:
            raise QueryBudgetError(
                f"query budget of {self.budget} exhausted ({self.queries} used, "
                f"{len(rows)} more asked)"
            )
        self.queries += len(rows)
        answer = self._post({self.input_key: rows.tolist()})
        values, kind = self._values(answer)
        if len(values) != len(rows):
            raise EndpointError(f"{self.url}: answered {len(values)} rows for {len(rows)} sent")
        return self._logits(values, kind)

    def _values(self, answer: Any) -> tuple[Any, Scores]:
        if isinstance(answer, list):
            return answer, self.scores or "logits"
        if not isinstance(answer, dict):
            raise EndpointError(f"{self.url}: answered JSON that is neither an object nor a list")
        keys = [self.output_key] if self.output_key else [k for k in _KEYS if k in answer]
        if not keys or keys[0] not in answer:
            want = self.output_key or " / ".join(_KEYS)
            raise EndpointError(f"{self.url}: the answer has no {want} field")
        values = answer[keys[0]]
        if not isinstance(values, list):
            raise EndpointError(f"{self.url}: {keys[0]!r} is not a list")
        return values, self.scores or _KEYS.get(keys[0], "logits")

    def _logits(self, values: Any, kind: Scores) -> torch.Tensor:
        self.scores = kind
        source = self.url
        try:
            if kind == "labels":
                if not self.n_classes:
                    raise EndpointError(
                        f"{source}: answers labels only; give the number of classes"
                    )
                out = labels_to_logits(values, self.n_classes, source)
            elif kind == "probabilities":
                out = probabilities_to_logits(values, source)
            else:
                out = margins_to_logits(values, source)
        except (ValueError, TypeError) as exc:
            raise EndpointError(f"{source}: the answer's scores are not numbers") from exc
        if self.n_classes is not None and out.shape[1] != self.n_classes:
            raise EndpointError(
                f"{source}: answered {out.shape[1]} scores per row, expected {self.n_classes}"
            )
        return out

    def _post(self, body: dict[str, Any]) -> Any:
        data = json.dumps(body).encode()
        for attempt in range(self.retries + 1):
            self._pace()
            request = urllib.request.Request(self.url, data=data, headers=self._headers)
            self.requests += 1
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return _json(response.read(), self.url)
            except urllib.error.HTTPError as exc:
                if exc.code not in _RETRY_STATUS or attempt == self.retries:
                    raise EndpointError(f"{self.url}: answered HTTP {exc.code}") from exc
                wait = _retry_after(exc.headers.get("Retry-After"), attempt)
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                if attempt == self.retries:
                    reason = getattr(exc, "reason", exc)
                    raise EndpointError(f"{self.url}: not reachable ({reason})") from exc
                wait = _retry_after(None, attempt)
            self.retried += 1
            time.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _pace(self) -> None:
        if self.rate is None:
            return
        gap = 1.0 / self.rate - (time.monotonic() - self._last)
        if gap > 0:
            time.sleep(gap)
        self._last = time.monotonic()


def _json(raw: bytes, url: str) -> Any:
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EndpointError(f"{url}: did not answer JSON") from exc


def _retry_after(header: str | None, attempt: int) -> float:
    """Seconds to wait: the server's Retry-After (seconds) if given, else 0.25 * 2^attempt."""
    if header is not None:
        try:
            return min(max(float(header), 0.0), _MAX_WAIT)
        except ValueError:
            pass
    return min(0.25 * 2.0**attempt, _MAX_WAIT)
