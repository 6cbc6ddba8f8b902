"""The classic env.py: it builds its own engine from sqlalchemy.url and ignores config.attributes."""

from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config

engine = engine_from_config(config.get_section(config.config_ini_section), prefix="sqlalchemy.",
                            poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
