"""Tokens name their user and expire; page sessions; bounded access-denial log.

Existing tokens get their holder name as user (the name was the only word on who holds a
token) and expire 90 days after this migration, so none lives forever and none stops at once.

Revision ID: auth_0003
Revises: auth_0002
"""
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from alembic import op

revision = "auth_0003"
down_revision = "auth_0002"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("api_token") as batch:
        batch.add_column(sa.Column("user", sa.String(200), nullable=True))
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    token = sa.table("api_token", sa.column("name", sa.String), sa.column("user", sa.String),
                     sa.column("expires_at", sa.DateTime(timezone=True)))
    grace = datetime.now(timezone.utc) + timedelta(days=90)
    op.execute(token.update().values(user=token.c.name, expires_at=grace))
    with op.batch_alter_table("api_token") as batch:
        batch.alter_column("user", existing_type=sa.String(200), nullable=False)
        batch.alter_column("expires_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch.create_index("ix_api_token_user", ["user"])
    with op.batch_alter_table("access_denial") as batch:
        batch.add_column(sa.Column("count", sa.Integer, nullable=False, server_default="1"))
    op.create_table(
        "web_session",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("token_id", sa.Integer, sa.ForeignKey("api_token.id"), nullable=False, index=True),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table("web_session")
    with op.batch_alter_table("access_denial") as batch:
        batch.drop_column("count")
    with op.batch_alter_table("api_token") as batch:
        batch.drop_index("ix_api_token_user")
        batch.drop_column("expires_at")
        batch.drop_column("user")
