"""What the deploy files must agree with: settings' variable names and CLI commands of the apps."""

from __future__ import annotations

import importlib
from typing import Any

import typer
from pydantic import AliasChoices


def settings_env_names(module: str, class_name: str) -> set[str]:
    """Upper-case environment names a pydantic-settings class reads."""
    settings_class: Any = getattr(importlib.import_module(module), class_name)
    prefix = str(settings_class.model_config.get("env_prefix", ""))
    names: set[str] = set()
    for field_name, field in settings_class.model_fields.items():
        names.add(f"{prefix}{field_name}".upper())
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names |= {choice.upper() for choice in alias.choices if isinstance(choice, str)}
        elif isinstance(alias, str):
            names.add(alias.upper())
    return names


def cli_command(*path: str) -> Any:
    """The ``plantvita`` (sub)command at ``path``, or None when it does not exist.

    Duck-typed: recent typer releases ship their own copy of click's classes.
    """
    from plantvita.cli import app

    command: Any = typer.main.get_command(app)
    for name in path:
        subcommands = getattr(command, "commands", None)
        if not isinstance(subcommands, dict) or name not in subcommands:
            return None
        command = subcommands[name]
    return command


def command_envvars(*path: str) -> set[str]:
    """Environment variables that the options of a ``plantvita`` command read."""
    command = cli_command(*path)
    assert command is not None, path
    names: set[str] = set()
    for param in command.params:
        envvar = getattr(param, "envvar", None)
        if isinstance(envvar, str):
            names.add(envvar)
        elif envvar:
            names |= set(envvar)
    return names
