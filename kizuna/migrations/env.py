"""Alembic environment: runs on the engine the caller put in `config.attributes`."""

from alembic import context
from sqlmodel import SQLModel

import kizuna.models  # noqa: F401  (registers the tables on SQLModel.metadata)

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        user_module_prefix="kizuna.models.",
    )
    context.run_migrations()
