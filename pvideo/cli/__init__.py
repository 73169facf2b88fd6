"""The ``pvideo`` command line (Typer): one module per command group, assembled here.

Commands import what they use when they run, so ``pvideo --help`` starts fast. The
benchmarks are not commands: they run from a checkout as ``python -m bench.render``,
``python -m bench.queue`` and ``python -m bench.events``.
"""

from __future__ import annotations

import typer

from pvideo.cli import apikey, campaign, customer, db, demo, retention, scene, serve, template, user

app = typer.Typer(
    help="pvideo: personalized video from scene scripts.", no_args_is_help=True, pretty_exceptions_enable=False
)
app.add_typer(scene.app)  # schema, validate, render, preview
app.add_typer(scene.library, name="scene")  # push, pull, versions
app.add_typer(demo.app)
app.add_typer(serve.app)  # serve, worker
app.add_typer(campaign.app, name="campaign")
app.add_typer(db.app, name="db")
app.add_typer(template.app, name="template")
app.add_typer(apikey.app, name="apikey")
app.add_typer(user.app, name="user")
app.add_typer(customer.app, name="customer")  # erase, export
app.add_typer(retention.app, name="retention")
