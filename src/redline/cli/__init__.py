"""Command-line interface (Typer). Thin: parse, call the library, print."""
