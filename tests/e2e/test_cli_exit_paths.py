"""Every way `podium run` can end leaves the run it held ended or resumable: Ctrl-C cancels it
and says so; SIGTERM and a closed pipe (`| head`) let it go for the next runner, which
resumes it at once; with `--url`, Ctrl-C detaches and says how to follow the run again. Two
`podium run` on one session with `enqueue` both finish, though the first process exits as
soon as its own answer is in."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from podium.testing import Reply
from podium.testing.script import message_text
from support.podium_env import make_podium, wait_for_run

SLOW = Reply(text=" ".join(f"word{i}" for i in range(40)), chunks=40, chunk_ms=100)


@pytest.fixture
def cli(tmp_path, fake_openai, agents, monkeypatch):
    settings = {
        "OPENAI_API_BASE": fake_openai.base_url,
        "OPENAI_API_KEY": "sk-test",
        "PODIUM_TEST_STATE": str(tmp_path / "state"),
        "PODIUM_RUNNER_LEASE_S": "2",
    }
    for name, value in settings.items():  # this process's runner too
        monkeypatch.setenv(name, value)
    env = {**os.environ, **settings}
    agents("plain", "on_conflict: enqueue\n")
    home = tmp_path / "home"

    def start(*args: str, stdout=subprocess.PIPE, shell_tail: str = "") -> subprocess.Popen:
        command = [sys.executable, "-m", "podium.cli.main", *args,
                   "--home", str(home), "--agents", str(tmp_path / "agents")]  # fmt: skip
        if shell_tail:
            line = " ".join(f"'{part}'" for part in command) + shell_tail
            return subprocess.Popen(["bash", "-c", line], stdout=stdout,
                                    stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip
        return subprocess.Popen(command, stdout=stdout, stderr=subprocess.PIPE, text=True,
                                env=env)  # fmt: skip

    return start


def streaming_run(tmp_path: Path, timeout: float = 20):
    """Wait until the CLI's run is streaming; its session and run ids."""
    from podium.store.sqlite import SqliteStore

    deadline = time.monotonic() + timeout
    db = tmp_path / "home" / "podium.db"
    while time.monotonic() < deadline:
        if db.exists():
            store = SqliteStore(db)
            try:
                for checkpoint in store.list_checkpoints():
                    events = store.list_events(
                        "local", checkpoint.session_id, run_id=checkpoint.run_id
                    )
                    if any(e.type == "text-delta" for e in events):
                        return checkpoint.session_id, checkpoint.run_id
            finally:
                store.close()
        time.sleep(0.05)
    raise TimeoutError("the CLI's run never streamed")


def local_podium(tmp_path: Path):
    """A runner on the CLI's home: it resumes what the CLI left."""
    return make_podium(tmp_path, lease_s=2.0, owner="next")


def test_ctrl_c_cancels_the_run_and_says_so(cli, fake_openai, tmp_path):
    fake_openai.script(SLOW)
    child = cli("run", "plain", "talk to me", "--tenant", "local")
    session, run_id = streaming_run(tmp_path)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=20)
    assert child.returncode == 130, err
    assert f"(cancelled run {run_id})" in err
    p = local_podium(tmp_path)
    try:
        run = p.store.get_run("local", session, run_id)
        assert run.status == "cancelled"
        assert p.store.get_session("local", session).lease_holder(time.time()) is None
    finally:
        p.runner.stop()


@pytest.mark.parametrize("how", ["SIGTERM", "closed pipe"])
def test_a_run_let_go_is_resumed_at_once_by_the_next_runner(cli, fake_openai, tmp_path, how):
    fake_openai.script(SLOW, SLOW)  # the resumed step streams its answer again
    if how == "SIGTERM":
        child = cli("run", "plain", "talk to me", "--tenant", "local")
        session, run_id = streaming_run(tmp_path)
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=20)
        assert child.returncode == 143, err
        assert f"(run {run_id} was left unfinished" in err
    else:  # the reader of the CLI's output stops after a few bytes
        child = cli("run", "plain", "talk to me", "--tenant", "local", shell_tail=" | head -c 12")
        out, err = child.communicate(timeout=30)
        assert child.returncode == 0 and out == "word0 word1 ", err
        assert "Traceback" not in err and "Exception ignored" not in err, err
        session, run_id = streaming_run(tmp_path)
    p = local_podium(tmp_path)  # started at once: no lease left to expire
    try:
        assert (
            run_id in p.runner.executor.running()
            or p.store.get_run("local", session, run_id).terminal
        )
        run = wait_for_run(p.store, session, run_id, 30, tenant="local")
        assert run.status == "succeeded", run.error
        assert run.output["text"] == SLOW.text
    finally:
        p.runner.stop()


def test_two_cli_processes_on_one_session_both_finish(cli, fake_openai, tmp_path):
    """The first process hands the session to the queued input as its run closes, then
    exits; the second takes that run over and prints its answer."""

    def answer(request):  # whichever process asks, and however often
        last = message_text(request["messages"][-1])
        if last == "one":
            return Reply(text="first answer", chunks=6, chunk_ms=200)
        return Reply("second answer")

    fake_openai.responder = answer
    first = cli("run", "plain", "one", "--tenant", "local")
    session, _ = streaming_run(tmp_path)
    second = cli("run", "plain", "two", "--tenant", "local", "--session", session)
    out_first, err_first = first.communicate(timeout=30)
    out_second, err_second = second.communicate(timeout=60)
    assert first.returncode == 0 and "first answer" in out_first, err_first
    assert "(queued behind the active run" in err_second
    assert second.returncode == 0 and "second answer" in out_second, err_second


def test_ctrl_c_with_url_detaches_and_says_how_to_follow(
    tmp_path, fake_openai, monkeypatch, agents
):
    from support.live_api import start_live_api

    monkeypatch.setenv("OPENAI_API_BASE", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    agents("plain", "")
    fake_openai.script(SLOW)
    live = start_live_api(tmp_path)
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", "podium.cli.main", "run", "plain", "talk to me",
             "--url", live.url, "--key", live.key],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert child.stdout.read(6) == "word0 "  # streaming
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=20)
        assert child.returncode == 130, err
        assert "(detached: run " in err and "podium follow " in err and "--url " in err
        run_id = err.split("(detached: run ", 1)[1].split()[0]
        session = err.split("--session ", 1)[1].split()[0]
        follow = subprocess.run(
            [sys.executable, "-m", "podium.cli.main", "follow", run_id, "--session", session,
             "--url", live.url, "--key", live.key],
            check=False, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert follow.returncode == 0, follow.stderr
        assert follow.stdout.strip() == SLOW.text  # from its start, to its end
        assert f"[succeeded] run {run_id}" in follow.stderr
    finally:
        live.stop()
