"""``python -m plantvita``: the same command as the ``plantvita`` script."""

from plantvita.cli import app

app(prog_name="plantvita")
