"""The Typer apps every command module registers on (kept apart so the modules import it, not each other)."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="memberwise: unified members, member features and marketing models for omni-channel brands.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
train_app = typer.Typer(help="Train a model and register it as the challenger.", no_args_is_help=True)
promote_app = typer.Typer(help="Run the promotion gate: challenger vs champion.", no_args_is_help=True)
app.add_typer(train_app, name="train")
app.add_typer(promote_app, name="promote")
