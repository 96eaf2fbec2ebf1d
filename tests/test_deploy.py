"""The deployment files in deploy/ parse and run commands that exist (docker is not run)."""

from __future__ import annotations

import configparser
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

DEPLOY = Path(__file__).parent.parent / "deploy"


def tidings_commands() -> set[str]:
    """The subcommands `tidings --help` lists."""
    shown = subprocess.run([sys.executable, "-m", "tidings", "--help"], capture_output=True,
                           text=True, check=True, env={"COLUMNS": "200", "PATH": ""}).stdout  # fmt: skip
    return {
        line.split()[1]
        for line in shown.splitlines()
        if line.startswith("│ ") and len(line.split()) > 1
    }


def test_compose_file_runs_migrations_before_web_and_workers() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "migrate", "web", "worker"} <= services.keys()
    assert services["migrate"]["command"] == ["tidings", "db", "upgrade"]
    for name in ("web", "worker"):
        service = services[name]
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert service["environment"]["TIDINGS_DATABASE_URL"].startswith("postgresql+psycopg://")
        assert service["environment"]["TIDINGS_REDIS_URL"].startswith("redis://")
    commands = tidings_commands()
    assert {services[name]["command"][1] for name in ("migrate", "web", "worker")} <= commands
    assert (DEPLOY / services["web"]["build"]["dockerfile"].removeprefix("deploy/")).is_file()


def test_systemd_units_parse_and_start_tidings_commands() -> None:
    commands = tidings_commands()
    units = sorted((DEPLOY / "systemd").glob("*.service"))
    assert {unit.name for unit in units} >= {"tidings-web.service", "tidings-worker@.service"}
    for unit in units:
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read(unit)
        assert parser.has_section("Unit"), unit.name
        words = shlex.split(parser["Service"]["ExecStart"])
        assert words[0].endswith("/bin/tidings"), unit.name
        assert words[1] in commands, unit.name
    timer = configparser.ConfigParser(interpolation=None)
    timer.read(DEPLOY / "systemd" / "tidings-backup.timer")
    assert timer["Timer"]["OnCalendar"]
