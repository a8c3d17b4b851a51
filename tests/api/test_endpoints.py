"""Each endpoint's happy path and its errors: 401, 404, 422, 503 — never a 500."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.config import ApiConfig
from core import apikeys
from core.auth import SYSTEM
from core.db.models import ApiRequest
from core.forecast import service
from core.settings import Settings
from tests.api.conftest import NO_CHAMPION, World


def test_predict_returns_the_champions_forecast(world: World, client: TestClient, key: str) -> None:
    response = client.post("/predict", json={"symbol": "msft", "days": 7},
                           headers={"X-API-Key": key})
    assert response.status_code == 200, response.text
    body = response.json()
    champion = service.champion(world.db, "MSFT")
    assert champion is not None
    assert body["symbol"] == "MSFT"
    assert body["model_version"] == champion.id
    assert body["model_kind"] == "drift"
    assert body["beats_naive"] == service._beats_naive(champion)
    assert body["band_method"] == "gaussian+aci"  # the bands every front door publishes
    assert len(body["dates"]) == len(body["mean"]) == 7
    for lo95, lo80, mean, hi80, hi95 in zip(
        body["lo95"], body["lo80"], body["mean"], body["hi80"], body["hi95"], strict=True
    ):
        assert lo95 <= lo80 <= mean <= hi80 <= hi95
    assert body["dates"] == sorted(body["dates"])
    assert body["dates"][0] > body["data_date"]


def test_bearer_token_is_accepted(client: TestClient, key: str) -> None:
    response = client.get("/symbols", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200
    assert {"symbol": "MSFT"}.items() <= response.json()["symbols"][0].items()


def test_an_empty_x_api_key_falls_back_to_the_bearer_token(client: TestClient, key: str) -> None:
    response = client.get("/symbols", headers=[("X-API-Key", ""),
                                               ("Authorization", f"Bearer {key}")])
    assert response.status_code == 200


def test_symbols_lists_stored_symbols(client: TestClient, key: str) -> None:
    response = client.get("/symbols", headers={"X-API-Key": key})
    assert response.status_code == 200
    rows = {s["symbol"]: s for s in response.json()["symbols"]}
    assert set(rows) == {"MSFT", NO_CHAMPION}
    assert rows["MSFT"]["rows"] == 7983


def test_models_lists_versions_with_the_champion(
    world: World, client: TestClient, key: str
) -> None:
    response = client.get("/models/msft", headers={"X-API-Key": key})
    assert response.status_code == 200
    body = response.json()
    champion = service.champion(world.db, "MSFT")
    assert champion is not None
    assert body["champion_id"] == champion.id
    assert [v["id"] for v in body["versions"]] == [v.id for v in service.versions(world.db, "MSFT")]
    assert {v["role"] for v in body["versions"]} >= {"champion"}


def test_models_of_a_symbol_without_models_is_empty(client: TestClient, key: str) -> None:
    response = client.get(f"/models/{NO_CHAMPION}", headers={"X-API-Key": key})
    assert response.status_code == 200
    assert response.json() == {"symbol": NO_CHAMPION, "champion_id": None, "versions": []}


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "words"),
    [
        pytest.param("post", "/predict", {"symbol": "ZZZZ", "days": 5}, 404, "unknown symbol",
                     id="predict-unknown-symbol"),
        pytest.param("post", "/predict", {"symbol": NO_CHAMPION, "days": 5}, 404,
                     "no champion model", id="predict-no-champion"),
        pytest.param("post", "/predict", {"symbol": "MSFT", "days": 0}, 422, "", id="days-0"),
        pytest.param("post", "/predict", {"symbol": "MSFT", "days": 366}, 422, "", id="days-366"),
        pytest.param("post", "/predict", {"symbol": "MSFT", "days": "x"}, 422, "", id="days-text"),
        pytest.param("post", "/predict", {"symbol": "MSFT", "days": "7"}, 422, "", id="days-str"),
        pytest.param("post", "/predict", {"symbol": "MSFT", "days": 7.0}, 422, "",
                     id="days-float"),
        pytest.param("post", "/predict", {"symbol": "MSFT", "days": True}, 422, "",
                     id="days-bool"),
        pytest.param("post", "/predict", {"symbol": "no way!", "days": 5}, 422,
                     "not a valid symbol", id="bad-symbol"),
        pytest.param("post", "/predict", {"days": 5}, 422, "", id="no-symbol"),
        pytest.param("get", "/models/ZZZZ", None, 404, "unknown symbol", id="models-unknown"),
        pytest.param("get", "/models/a..b", None, 422, "not a valid symbol", id="models-bad"),
    ],
)
def test_errors(
    client: TestClient, key: str, method: str, path: str, body: Any, status: int, words: str
) -> None:
    response = client.request(method, path, json=body, headers={"X-API-Key": key})
    assert response.status_code == status, response.text
    assert words in str(response.json()["detail"])


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="missing"),
        pytest.param({"X-API-Key": "sk_not-a-real-key"}, id="wrong"),
        pytest.param({"X-API-Key": "garbage"}, id="malformed"),
        pytest.param({"Authorization": "Bearer sk_wrong"}, id="wrong-bearer"),
        pytest.param({"Authorization": "Basic dXNlcjpwYXNz"}, id="basic"),
    ],
)
@pytest.mark.parametrize("path", ["/symbols", "/models/MSFT", "/predict"])
def test_missing_or_wrong_key_is_401(client: TestClient, headers: dict[str, str], path: str
                                     ) -> None:
    if path == "/predict":
        response = client.post(path, json={"symbol": "MSFT", "days": 3}, headers=headers)
    else:
        response = client.get(path, headers=headers)
    assert response.status_code == 401
    assert "API key" in response.json()["detail"]


def test_a_revoked_key_is_401(world: World, client: TestClient) -> None:
    info, key = apikeys.create_key(world.db, "to-revoke", SYSTEM)
    apikeys.revoke_key(world.db, info.prefix, SYSTEM)
    assert client.get("/symbols", headers={"X-API-Key": key}).status_code == 401


def test_database_down_is_503(client_for: Callable[..., Any], tmp_path: Any) -> None:
    settings = Settings.from_env({
        "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:9/none",
        "MODEL_DIR": str(tmp_path),
    })
    with client_for(settings=settings) as client:
        health = client.get("/health")
        predict = client.post("/predict", json={"symbol": "MSFT", "days": 3},
                              headers={"X-API-Key": "sk_whatever"})
    assert health.status_code == 503
    assert predict.status_code == 503
    assert "cannot use the database" in predict.json()["detail"]
    assert predict.headers["Retry-After"]


def test_every_request_is_logged_with_its_key_prefix(
    world: World, client_for: Callable[..., Any], key: str
) -> None:
    with client_for() as client:
        client.get("/health")
        client.get("/symbols", headers={"X-API-Key": key})
        client.get("/symbols", headers={"X-API-Key": "sk_wrong"})
    # leaving the client runs the shutdown, which writes the queued rows
    prefix = apikeys.prefix_of(key)
    with world.db.read() as session:
        rows = session.scalars(
            select(ApiRequest).where(
                (ApiRequest.key_prefix == prefix) | (ApiRequest.key_prefix.is_(None))
            ).order_by(ApiRequest.id.desc()).limit(3)
        ).all()
    assert [(r.method, r.path, r.status, r.key_prefix) for r in reversed(rows)] == [
        ("GET", "/health", 200, None),
        ("GET", "/symbols", 200, prefix),
        ("GET", "/symbols", 401, None),
    ]
    assert all(r.latency_ms >= 0 for r in rows)


@pytest.mark.parametrize(
    ("raw", "loc", "error_type"),
    [
        pytest.param(b'{"symbol": "MSFT", "days": 0}', ["body", "days"], "greater_than_equal",
                     id="field"),
        pytest.param(b'{"symbol": "MSFT"', ["body"], "json_invalid", id="truncated-json"),
        pytest.param(b"\x80\xff", ["body"], "json_invalid", id="not-text"),
        pytest.param(b"", ["body"], "json_invalid", id="empty"),
        pytest.param(b"[1, 2]", ["body"], "model_type", id="not-an-object"),
    ],
)
def test_a_bad_predict_body_is_fastapis_422(
    client: TestClient, key: str, raw: bytes, loc: list[str], error_type: str
) -> None:
    """/predict parses its own body (api.routes); errors keep FastAPI's 422 shape."""
    response = client.post("/predict", content=raw, headers={
        "X-API-Key": key, "Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == loc
    assert error["type"] == error_type
    assert error["msg"]


def test_a_bad_body_without_a_key_is_still_401(client: TestClient) -> None:
    response = client.post("/predict", content=b"{", headers={"Content-Type": "application/json"})
    assert response.status_code == 401


def test_openapi_documents_the_endpoints(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert {"/predict", "/symbols", "/models/{symbol}", "/health"} <= set(schema["paths"])
    predict = schema["paths"]["/predict"]["post"]
    assert predict["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PredictResponse"
    }
    # The body /predict parses itself is documented as FastAPI would document it
    assert predict["requestBody"] == {"required": True, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/PredictRequest"}}}}
    body_schema = schema["components"]["schemas"]["PredictRequest"]
    assert body_schema["required"] == ["symbol", "days"]
    assert body_schema["properties"]["days"]["maximum"] == 365
    assert predict["responses"]["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/HTTPValidationError"
    }
    assert "ValidationError" in schema["components"]["schemas"]
    assert {"ApiKey", "Bearer"} <= set(schema["components"]["securitySchemes"])
    assert client.get("/docs").status_code == 200


def test_predict_refuses_a_large_body_with_413(client: TestClient, key: str) -> None:
    limit = ApiConfig().max_body_bytes  # the client fixture's config keeps the default
    big = b'{"symbol": "MSFT", "days": 7, "pad": "' + b"x" * limit + b'"}'
    declared = client.post("/predict", content=big,
                           headers={"X-API-Key": key, "Content-Type": "application/json"})
    assert declared.status_code == 413, declared.text
    assert "larger than" in declared.json()["detail"]

    def chunks():  # type: ignore[no-untyped-def]  # no Content-Length: a chunked stream
        for i in range(0, len(big), 1024):
            yield big[i : i + 1024]

    streamed = client.post("/predict", content=chunks(),
                           headers={"X-API-Key": key, "Content-Type": "application/json"})
    assert streamed.status_code == 413, streamed.text
    small = client.post("/predict", json={"symbol": "MSFT", "days": 2},
                        headers={"X-API-Key": key})
    assert small.status_code == 200
