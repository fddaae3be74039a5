"""The ``wave-network`` command line: a thin layer that parses options, builds configs and calls the library."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from .params import count_parameters
from .presets import get_preset, list_presets
from .registry import create_model

app = typer.Typer(help="Wave Network text classifiers (arXiv 2411.02674).", no_args_is_help=True)
console = Console()


@app.callback()
def main() -> None:
    """Train, evaluate and analyse Wave Network text classifiers."""


@app.command()
def presets(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Also show where each preset departs from the paper."),
    params: bool = typer.Option(False, "--params", help="Also count parameters (builds each model, 4 labels)."),
) -> None:
    """List the model presets with a one-line description each."""
    table = Table(show_header=True, header_style="bold")
    table.add_column("preset")
    table.add_column("description")
    if params:
        table.add_column("non-embedding params", justify="right")
    for name in list_presets():
        preset = get_preset(name)
        row = [name, preset.description]
        if params:
            row.append(f"{count_parameters(create_model(name, num_labels=4)).non_embedding:,}")
        table.add_row(*row)
        if verbose:
            table.add_row("", f"[dim]{preset.departures}[/dim]", *([""] if params else []))
    console.print(table)


if __name__ == "__main__":
    app()
