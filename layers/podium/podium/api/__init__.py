"""podium.api: the HTTP API (FastAPI), served by uvicorn locally and by Lambda in AWS."""
