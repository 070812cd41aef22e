"""Operations endpoints for the HTTP server: readiness and Prometheus metrics.

`GET /readyz`: 200 when the database answers and its schema is current, else 503 (a load
balancer stops sending traffic; the process is not restarted, `/healthz` says it is alive).
`GET /metrics`: the Prometheus exposition (counters of every process sharing
`PROMETHEUS_MULTIPROC_DIR`, ticket and outbox gauges read from the database).
"""

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.ops import metrics
from bot.ops.health import readiness


def ops_routes(engine: Engine) -> list[Route]:
    async def readyz(_request: Request) -> Response:
        ok, details = await run_in_threadpool(readiness, engine)
        return JSONResponse(details, status_code=200 if ok else 503)

    async def metrics_endpoint(_request: Request) -> Response:
        body = await run_in_threadpool(metrics.render, engine)
        return Response(body, media_type=metrics.CONTENT_TYPE)

    return [
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
    ]
