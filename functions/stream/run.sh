#!/bin/sh
# The stream function: Podium's FastAPI app under uvicorn, behind the Lambda Web Adapter
# (AWS_LWA_INVOKE_MODE=response_stream) on a REST API with ResponseTransferMode
# RESPONSE_STREAM, so SSE bytes reach the client as they are written. The adapter (a layer)
# starts this script, waits for the readiness path, then forwards each request to $PORT.
export PYTHONPATH="${LAMBDA_TASK_ROOT:-/var/task}:/opt/python${PYTHONPATH:+:$PYTHONPATH}"
exec python -m uvicorn podium.api.app:app --host 0.0.0.0 --port "${PORT:-8080}" \
  --no-access-log --timeout-graceful-shutdown 1
