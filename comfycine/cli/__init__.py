"""The command-line interface: Typer commands over the comfycine library."""
