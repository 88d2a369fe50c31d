"""The `podium` command: help for every command, exit statuses, the installed entry point."""

from __future__ import annotations

import subprocess
import sys

import pytest

from podium.cli.main import COMMANDS, main


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_each_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as caught:
        main([command, "--help"])
    assert caught.value.code == 0
    assert f"podium {command}" in capsys.readouterr().out


def test_missing_path_is_a_clear_error(capsys, tmp_path):
    assert main(["validate", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_empty_folder_is_a_clear_error(capsys, tmp_path):
    assert main(["validate", str(tmp_path)]) == 2
    assert "no agents in" in capsys.readouterr().err


def test_schema_write(tmp_path, capsys):
    target = tmp_path / "agent.schema.json"
    assert main(["schema", "--write", str(target)]) == 0
    assert '"$schema"' in target.read_text()


def test_console_script_runs():
    done = subprocess.run(
        [sys.executable, "-m", "podium.cli.main", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.startswith("podium ")
