"""The Lambda handler answers API Gateway HTTP API (payload 2.0) events with the same app."""

from __future__ import annotations

import base64
import json
from typing import Any

from mangum import Mangum

from api.app import create_app
from api.config import ApiConfig
from tests.api.conftest import World


class LambdaContext:
    function_name = "stockcast-api"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:stockcast-api"
    memory_limit_in_mb = 512
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    log_group_name = "/aws/lambda/stockcast-api"
    log_stream_name = "2026/11/30/[$LATEST]abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def http_api_event(method: str, path: str, *, headers: dict[str, str] | None = None,
                   body: Any = None) -> dict[str, Any]:
    """An API Gateway v2 (HTTP API) event, as AWS documents it."""
    raw = json.dumps(body) if body is not None else None
    all_headers = {"host": "abc123.execute-api.eu-west-1.amazonaws.com",
                   "user-agent": "curl/8.5.0", **(headers or {})}
    if raw is not None:
        all_headers["content-type"] = "application/json"
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": all_headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "203.0.113.7", "userAgent": "curl/8.5.0"},
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": "$default",
            "stage": "$default",
            "time": "30/Nov/2026:21:00:00 +0000",
            "timeEpoch": 1796072400000,
        },
        "body": base64.b64encode(raw.encode()).decode() if raw is not None else None,
        "isBase64Encoded": raw is not None,
    }


def test_module_handler_wraps_the_app() -> None:
    from api import lambda_handler

    assert isinstance(lambda_handler.handler, Mangum)


def test_handler_answers_http_api_events(world: World, key: str) -> None:
    handler = Mangum(create_app(world.settings, config=ApiConfig()), lifespan="off")
    health = handler(http_api_event("GET", "/health"), LambdaContext())
    assert health["statusCode"] == 200
    assert json.loads(health["body"])["status"] == "ok"

    predict = handler(
        http_api_event("POST", "/predict", headers={"x-api-key": key},
                       body={"symbol": "MSFT", "days": 3}),
        LambdaContext(),
    )
    assert predict["statusCode"] == 200, predict
    assert len(json.loads(predict["body"])["mean"]) == 3

    denied = handler(http_api_event("GET", "/symbols"), LambdaContext())
    assert denied["statusCode"] == 401
