"""Black-box tabular targets: scikit-learn estimators, ONNX files (onnxruntime) and a
real HTTP endpoint on loopback. Each must give back the model's own probabilities as
logits (softmax recovers them), its labels as argmax, and count every query."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier
from tests.targets._endpoint import Endpoint, serve

from redline.errors import InputError
from redline.targets import (
    EndpointError,
    HttpTarget,
    OnnxTarget,
    QueryBudgetError,
    SklearnTarget,
)


@pytest.fixture(scope="module")
def cancer() -> tuple[np.ndarray, np.ndarray, object]:
    x, y = load_breast_cancer(return_X_y=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x, y)
    return x.astype(np.float32), y, model


def _probs(target: object, x: np.ndarray) -> np.ndarray:
    logits = target.logits(torch.as_tensor(x))  # type: ignore[attr-defined]
    return torch.softmax(logits.double(), dim=1).numpy()


def test_sklearn_probabilities_margins_and_labels(cancer: tuple) -> None:
    x, y, model = cancer
    target = SklearnTarget(model)
    assert not target.label_only and target.scores == "probabilities"
    np.testing.assert_allclose(
        _probs(target, x), model.predict_proba(x.astype(np.float64)), atol=1e-5
    )
    assert target.usage.forward == len(x)
    svm = make_pipeline(StandardScaler(), LinearSVC()).fit(x, y)
    margin = SklearnTarget(svm)
    assert margin.scores == "logits"
    assert np.array_equal(margin.predict(torch.as_tensor(x)).numpy(), svm.predict(x))
    labels = SklearnTarget(model, scores="labels")
    out = labels.logits(torch.as_tensor(x[:20]))
    assert labels.label_only and set(out.sum(dim=1).tolist()) == {1.0}
    assert np.array_equal(out.argmax(1).numpy(), model.predict(x[:20]))


def test_sklearn_string_classes_and_bad_input() -> None:
    x, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    model = DecisionTreeClassifier(max_depth=3, random_state=0).fit(x, names)
    target = SklearnTarget(model)
    assert target.class_index(["virginica", "setosa"]).tolist() == [2, 0]
    with pytest.raises(InputError, match="not one of the model's classes"):
        target.class_index(["rose"])
    with pytest.raises(InputError, match="expects 4 features"):
        target.logits(torch.zeros(2, 3))
    with pytest.raises(InputError, match="not a fitted classifier"):
        SklearnTarget(LogisticRegression())


def _onnx_bytes(model: object, n_features: int, zipmap: bool) -> bytes:
    from skl2onnx import to_onnx

    proto = to_onnx(
        model, np.zeros((1, n_features), np.float32), options={"zipmap": zipmap}, target_opset=17
    )
    return proto.SerializeToString()


@pytest.mark.parametrize("zipmap", [False, True])
def test_onnx_matches_the_model_it_was_exported_from(cancer: tuple, zipmap: bool) -> None:
    x, _, model = cancer
    target = OnnxTarget(_onnx_bytes(model, x.shape[1], zipmap))
    assert target.scores == "probabilities" and target.n_features == x.shape[1]
    np.testing.assert_allclose(
        _probs(target, x), model.predict_proba(x.astype(np.float64)), atol=1e-4
    )
    label_out = next(o.name for o in target.session_.get_outputs() if "label" in o.name)
    labels = OnnxTarget(_onnx_bytes(model, x.shape[1], zipmap), output=label_out, n_classes=2)
    assert labels.label_only
    assert np.array_equal(labels.predict(torch.as_tensor(x)).numpy(), model.predict(x))


def test_onnx_refuses_what_it_cannot_read(cancer: tuple) -> None:
    x, _, model = cancer
    with pytest.raises(InputError, match="not a loadable ONNX model"):
        OnnxTarget(b"this is not a protobuf")
    target = OnnxTarget(_onnx_bytes(model, x.shape[1], False))
    with pytest.raises(InputError, match="expects 30 features"):
        target.logits(torch.zeros(1, 29))
    with pytest.raises(InputError, match="no output 'nope'"):
        OnnxTarget(_onnx_bytes(model, x.shape[1], False), output="nope")


@pytest.fixture
def endpoint(cancer: tuple) -> Iterator[Endpoint]:
    with serve(cancer[2]) as ep:
        yield ep


def test_http_target_scores_counts_and_spends_its_budget(cancer: tuple, endpoint: Endpoint) -> None:
    x, _, model = cancer
    target = HttpTarget(
        endpoint.url, budget=300, batch_size=64, headers={"Authorization": "Bearer s3cret"}
    )
    assert target.probe(x[0]) == 2 and target.scores == "probabilities"
    np.testing.assert_allclose(
        _probs(target, x[:200]), model.predict_proba(x[:200].astype(np.float64)), atol=1e-5
    )
    assert target.queries == 201 == endpoint.rows and endpoint.requests == 1 + 4
    assert endpoint.seen_headers[-1]["Authorization"] == "Bearer s3cret"
    assert "s3cret" not in repr(target)
    with pytest.raises(QueryBudgetError, match="budget of 300"):
        target.logits(torch.as_tensor(x[:100]))
    assert endpoint.rows == 201 + 64  # the batch that would overrun was never sent


def test_http_target_retries_and_reads_labels(cancer: tuple, endpoint: Endpoint) -> None:
    x, _, model = cancer
    endpoint.fail_next = 2
    target = HttpTarget(endpoint.url, budget=100, retries=2)
    assert target.probe(x[0]) == 2 and target.retried == 2
    endpoint.mode = "labels"
    labels = HttpTarget(endpoint.url, budget=100, n_classes=2)
    assert np.array_equal(labels.predict(torch.as_tensor(x[:50])).numpy(), model.predict(x[:50]))
    assert labels.label_only
    endpoint.fail_next = 5
    with pytest.raises(EndpointError, match="HTTP 503"):
        HttpTarget(endpoint.url, budget=10, retries=1).probe(x[0])


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("not-json", "did not answer JSON"),
        ("short", "answered 1 rows for 2 sent"),
        ("3-classes", "answered 3 scores per row, expected 2"),
    ],
)
def test_http_target_rejects_bad_answers(
    cancer: tuple, endpoint: Endpoint, mode: str, message: str
) -> None:
    endpoint.mode = mode
    target = HttpTarget(endpoint.url, budget=10, n_classes=2, retries=0)
    with pytest.raises(EndpointError, match=message):
        target.logits(torch.as_tensor(cancer[0][:2]))


def test_http_target_refuses_bad_urls_and_dead_hosts() -> None:
    with pytest.raises(InputError, match="http"):
        HttpTarget("file:///etc/passwd", budget=10)
    dead = HttpTarget("http://127.0.0.1:9/predict", budget=10, retries=1, timeout=2)
    with pytest.raises(EndpointError, match="not reachable"):
        dead.probe(np.zeros(3))


def test_score_based_attacks_refuse_a_label_only_target(cancer: tuple) -> None:
    from redline.attacks import Square

    x, y, model = cancer
    target = SklearnTarget(model, scores="labels")
    with pytest.raises(InputError, match="labels only"):
        Square(eps=0.1, queries=10)(target, torch.as_tensor(x[:4]), torch.as_tensor(y[:4]))
