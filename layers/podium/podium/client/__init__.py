"""The Python client of Podium's HTTP API: `Podium` (sync) and `AsyncPodium`.

    from podium.client import Podium

    with Podium("http://127.0.0.1:8000", api_key="pk_...") as podium:
        session = podium.create_session("weather")
        run = podium.start_run(session.session_id, "What's the weather in Paris?")
        for event in podium.events(session.session_id, run.run_id):
            if event.type == "text-delta":
                print(event.data["delta"], end="")

`events()` reconnects on its own after a dropped connection, resuming with the last event id
it saw, so no event is lost or repeated.
"""

from podium.client.client import AsyncPodium, Podium, PodiumAPIError
from podium.client.types import Event, RunInfo, SessionInfo

__all__ = ["AsyncPodium", "Event", "Podium", "PodiumAPIError", "RunInfo", "SessionInfo"]
