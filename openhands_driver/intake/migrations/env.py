"""Alembic environment of the intake database: runs on the connection migrations.upgrade() passes."""

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:  # `alembic -x db=PATH ...` from the command line
    from sqlalchemy import create_engine

    db = context.get_x_argument(as_dictionary=True).get("db")
    if not db:
        raise SystemExit("name the database: alembic -c ... -x db=PATH upgrade head "
                         "(or let the intake do it: it upgrades its --db at start)")
    connection = create_engine(f"sqlite:///{db}").connect()

context.configure(connection=connection, target_metadata=None, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
