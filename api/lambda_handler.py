"""AWS Lambda entry point (API Gateway HTTP API): the same app through Mangum.

``lifespan="off"``: Lambda has no ASGI start-up/shut-down; the runtime is built on the
first request and request-log rows are written by the background thread while the
execution environment is warm.
"""

from __future__ import annotations

from mangum import Mangum

from api.app import app

handler = Mangum(app, lifespan="off")
