"""Training: events with agenda, speakers, materials and quotas; participants, attendance,
feedback and certificates; events announced by other nodes and the nominations sent to them.

Revision ID: training_0002
Revises: training_0001
"""
import sqlalchemy as sa
from alembic import op

revision = "training_0002"
down_revision = "training_0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('announced_event',
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('organiser_node', sa.String(length=8), nullable=False),
    sa.Column('snapshot', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('as_of', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('event_id')
    )
    op.create_table('nomination',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('organiser_node', sa.String(length=8), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('position', sa.String(length=200), nullable=False),
    sa.Column('office', sa.String(length=200), nullable=False),
    sa.Column('regency', sa.String(length=4), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('email', sa.String(length=200), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('position_on_waitlist', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('checkin_code', sa.String(length=16), nullable=True),
    sa.Column('nominated_by', sa.String(length=255), nullable=False),
    sa.Column('nominated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_nomination_event_id'), 'nomination', ['event_id'], unique=False)
    op.create_table('training_event',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('theme', sa.String(length=300), nullable=False),
    sa.Column('venue', sa.String(length=300), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=False),
    sa.Column('quota', sa.Integer(), nullable=False),
    sa.Column('target_roles', sa.JSON(), nullable=False),
    sa.Column('min_attendance', sa.Float(), nullable=False),
    sa.Column('min_post_score', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('status_reason', sa.String(length=500), nullable=True),
    sa.Column('demo', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_training_event_status'), 'training_event', ['status'], unique=False)
    op.create_table('agenda_session',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('starts_at', sa.Time(), nullable=False),
    sa.Column('ends_at', sa.Time(), nullable=False),
    sa.Column('topic', sa.String(length=300), nullable=False),
    sa.Column('speaker_ids', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['training_event.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_agenda_session_event_id'), 'agenda_session', ['event_id'], unique=False)
    op.create_table('participant',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('identity_key', sa.String(length=220), nullable=False),
    sa.Column('position', sa.String(length=200), nullable=False),
    sa.Column('office', sa.String(length=200), nullable=False),
    sa.Column('regency', sa.String(length=4), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('email', sa.String(length=200), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('checkin_code', sa.String(length=16), nullable=False),
    sa.Column('nominating_node', sa.String(length=8), nullable=True),
    sa.Column('nomination_id', sa.String(length=36), nullable=True),
    sa.Column('pre_score', sa.Integer(), nullable=True),
    sa.Column('post_score', sa.Integer(), nullable=True),
    sa.Column('completed', sa.Boolean(), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['training_event.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id', 'checkin_code', name='uq_participant_code'),
    sa.UniqueConstraint('event_id', 'identity_key', name='uq_participant_identity'),
    sa.UniqueConstraint('nomination_id')
    )
    op.create_index(op.f('ix_participant_event_id'), 'participant', ['event_id'], unique=False)
    op.create_index(op.f('ix_participant_regency'), 'participant', ['regency'], unique=False)
    op.create_index(op.f('ix_participant_status'), 'participant', ['status'], unique=False)
    op.create_table('regency_quota',
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('regency', sa.String(length=4), nullable=False),
    sa.Column('quota', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['training_event.id'], ),
    sa.PrimaryKeyConstraint('event_id', 'regency')
    )
    op.create_table('speaker',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('institution', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['training_event.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_speaker_event_id'), 'speaker', ['event_id'], unique=False)
    op.create_table('attendance',
    sa.Column('participant_id', sa.String(length=36), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('checked_in_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('recorded_by', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], ),
    sa.PrimaryKeyConstraint('participant_id', 'day')
    )
    op.create_table('certificate',
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('participant_id', sa.String(length=36), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_reason', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], ),
    sa.PrimaryKeyConstraint('number'),
    sa.UniqueConstraint('participant_id')
    )
    op.create_table('feedback',
    sa.Column('participant_id', sa.String(length=36), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['participant_id'], ['participant.id'], ),
    sa.ForeignKeyConstraint(['session_id'], ['agenda_session.id'], ),
    sa.PrimaryKeyConstraint('participant_id', 'session_id')
    )
    op.create_table('material',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('media_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('uploaded_by', sa.String(length=255), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['agenda_session.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_material_session_id'), 'material', ['session_id'], unique=False)


def downgrade():
    op.drop_table("material")
    op.drop_table("feedback")
    op.drop_table("certificate")
    op.drop_table("attendance")
    op.drop_table("speaker")
    op.drop_table("regency_quota")
    op.drop_table("participant")
    op.drop_table("agenda_session")
    op.drop_table("training_event")
    op.drop_table("nomination")
    op.drop_table("announced_event")
