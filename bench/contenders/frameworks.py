"""The frameworks a team would pick instead, each used the way its documentation shows:
LangGraph's `create_react_agent` (with `AsyncSqliteSaver`, or no checkpointer), the OpenAI
Agents SDK (`Runner`, with `SQLiteSession` or none) and Strands Agents (`OpenAIModel` with a
ready-made `AsyncOpenAI` client, with `FileSessionManager` or none). All call the fake server
over HTTP with the same prompt and tools; what each keeps per session lives under `workdir`.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from workload import API_KEY, MODEL, QUESTION, SYSTEM_PROMPT, get_time, get_weather

from contenders.base import BaseContender, TurnResult


class LangGraphAgent(BaseContender):
    def __init__(self, base_url: str, workdir: Path, persist: bool) -> None:
        self.name = "LangGraph" + (" + SQLite checkpointer" if persist else " (no persistence)")
        self.base_url, self.workdir, self.persist = base_url, workdir, persist
        self.agent: Any = None
        self.conn: Any = None

    async def _build(self) -> None:
        from langchain_core.tools import tool
        from langchain_openai import ChatOpenAI
        from langgraph.prebuilt import create_react_agent

        checkpointer = None
        if self.persist:
            import aiosqlite
            from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

            self.conn = await aiosqlite.connect(str(self.workdir / "langgraph.db"))
            checkpointer = AsyncSqliteSaver(self.conn)
            await checkpointer.setup()
        model = ChatOpenAI(model=MODEL, base_url=self.base_url, api_key=API_KEY, max_retries=0)
        self.agent = create_react_agent(
            model,
            [tool(get_weather), tool(get_time)],
            prompt=SYSTEM_PROMPT,
            checkpointer=checkpointer,
        )

    async def new_session(self) -> Any:
        if self.agent is None:
            await self._build()
        return {"configurable": {"thread_id": uuid.uuid4().hex}}

    async def turn(self, session: Any, stream: bool) -> TurnResult:
        request = {"messages": [("user", QUESTION)]}
        if not stream:
            state = await self.agent.ainvoke(request, config=session)
            return TurnResult(str(state["messages"][-1].content))
        text: list[str] = []
        deltas = 0
        async for chunk, meta in self.agent.astream(
            request, config=session, stream_mode="messages"
        ):
            if meta.get("langgraph_node") == "agent" and chunk.content:
                deltas += 1
                text.append(str(chunk.content))
        return TurnResult("".join(text), deltas=deltas)

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()


class OpenAIAgentsSdk(BaseContender):
    def __init__(self, base_url: str, workdir: Path, persist: bool) -> None:
        from openai import AsyncOpenAI

        from agents import (
            Agent,
            OpenAIChatCompletionsModel,
            function_tool,
            set_tracing_disabled,
        )

        set_tracing_disabled(True)
        self.name = "OpenAI Agents SDK" + (" + SQLiteSession" if persist else " (no persistence)")
        self.workdir, self.persist = workdir, persist
        client = AsyncOpenAI(base_url=base_url, api_key=API_KEY, max_retries=0)
        self.agent = Agent(
            name="weather",
            instructions=SYSTEM_PROMPT,
            model=OpenAIChatCompletionsModel(model=MODEL, openai_client=client),
            tools=[function_tool(get_weather), function_tool(get_time)],
        )

    async def new_session(self) -> Any:
        if not self.persist:
            return None
        from agents import SQLiteSession

        return SQLiteSession(uuid.uuid4().hex, self.workdir / "agents.db")

    async def turn(self, session: Any, stream: bool) -> TurnResult:
        from agents import Runner

        if not stream:
            result = await Runner.run(self.agent, QUESTION, session=session)
            return TurnResult(str(result.final_output))
        streamed = Runner.run_streamed(self.agent, QUESTION, session=session)
        deltas = 0
        async for event in streamed.stream_events():
            if event.type == "raw_response_event" and getattr(event.data, "delta", None):
                deltas += 1
        return TurnResult(str(streamed.final_output), deltas=deltas)


class StrandsAgent(BaseContender):
    def __init__(self, base_url: str, workdir: Path, persist: bool) -> None:
        from openai import AsyncOpenAI
        from strands import tool
        from strands.models.openai import OpenAIModel

        self.name = "Strands Agents" + (" + FileSessionManager" if persist else " (no persistence)")
        self.workdir, self.persist = workdir, persist
        client = AsyncOpenAI(base_url=base_url, api_key=API_KEY, max_retries=0)
        self.model = OpenAIModel(client=client, model_id=MODEL)
        self.tools = [tool(get_weather), tool(get_time)]

    async def new_session(self) -> Any:
        from strands import Agent

        manager = None
        if self.persist:
            from strands.session.file_session_manager import FileSessionManager

            manager = FileSessionManager(
                session_id=uuid.uuid4().hex, storage_dir=str(self.workdir / "strands")
            )
        return Agent(
            model=self.model,
            tools=self.tools,
            system_prompt=SYSTEM_PROMPT,
            callback_handler=None,
            session_manager=manager,
        )

    async def turn(self, session: Any, stream: bool) -> TurnResult:
        if not stream:
            result = await session.invoke_async(QUESTION)
            return TurnResult(str(result))
        deltas = 0
        text = ""
        async for event in session.stream_async(QUESTION):
            if "data" in event:
                deltas += 1
            if "result" in event:
                text = str(event["result"])
        return TurnResult(text, deltas=deltas)
