"""One module per contender; each runs in its own process under `bench/contenders/worker.py`."""
