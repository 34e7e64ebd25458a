"""The SQL schema, as SQLAlchemy Core tables. Alembic migrations mirror it."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)

from triage.store.types import UTCDateTime as DateTime

# Named constraints so migrations can refer to them on every dialect.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")

tenants = Table(
    "tenants",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("language", String(8), nullable=False),
    Column("timezone", String(64), nullable=False),
    # Everything else the config file says about the tenant (greeting, hours, IVR ...).
    Column("settings", JSON, nullable=False, default=dict),
)

tenant_phone_numbers = Table(
    "tenant_phone_numbers",
    metadata,
    Column("number", String(20), primary_key=True),
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
)

tenant_email_addresses = Table(
    "tenant_email_addresses",
    metadata,
    Column("address", String(320), primary_key=True),
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
)

secretaries = Table(
    "secretaries",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("languages", JSON, nullable=False),
    Column("skills", JSON, nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("phone", String(20), nullable=False),
    Column("settings", JSON, nullable=False, default=dict),
    Column("password_hash", String(255), nullable=True),
    CheckConstraint("role IN ('secretary', 'supervisor', 'admin')", name="role"),
    CheckConstraint("capacity >= 1", name="capacity"),
)

assignments = Table(
    "assignments",
    metadata,
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "secretary_id",
        String(64),
        ForeignKey("secretaries.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("kind", String(8), nullable=False),
    CheckConstraint("kind IN ('primary', 'backup')", name="kind"),
)
Index("ix_assignments_secretary", assignments.c.secretary_id)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column(
        "secretary_id",
        String(64),
        ForeignKey("secretaries.id", ondelete="CASCADE"),
        nullable=False,
    ),
    # SHA-256 of the token: tokens are 256-bit random, so a fast hash is enough and the
    # plain token never touches the database.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(), nullable=False),
    Column("revoked_at", DateTime(), nullable=True),
)

work_items = Table(
    "work_items",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="SET NULL"), nullable=True),
    Column("channel", String(8), nullable=False),
    # The edge's own id (Twilio MessageSid / CallSid, mail dedupe key): a retried webhook
    # finds the item it already made.
    Column("external_id", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("priority_rank", Integer, nullable=False),
    Column("pool", String(80), nullable=True),
    Column("sender", String(320), nullable=False, default=""),
    Column("recipient", String(320), nullable=False, default=""),
    Column("subject", Text, nullable=False, default=""),
    Column("body", Text, nullable=False, default=""),
    Column("language", String(8), nullable=True),
    Column("category", String(32), nullable=True),
    Column("held_by", String(64), ForeignKey("secretaries.id"), nullable=True),
    Column("outcome", String(64), nullable=True),
    Column("notes", Text, nullable=True),
    Column("payload", JSON, nullable=False, default=dict),
    # What triage read in the item (confidence, reasons, entities, model version ...).
    Column("triage", JSON, nullable=True),
    Column("confidence", Float, nullable=True),
    Column("needs_review", Boolean, nullable=False, default=False, server_default=false()),
    Column("spam", Boolean, nullable=False, default=False, server_default=false()),
    Column("created_at", DateTime(), nullable=False),
    Column("updated_at", DateTime(), nullable=False),
    Column("queued_at", DateTime(), nullable=True),
    Column("claimed_at", DateTime(), nullable=True),
    Column("completed_at", DateTime(), nullable=True),
    # Routing (issue 6). The skill a secretary needs for the item (category, IVR choice or
    # a tenant rule); the one secretary it is pinned to (a thread she handled, a transfer).
    Column("required_skill", String(32), nullable=True),
    Column(
        "pinned_to", String(64), ForeignKey("secretaries.id", ondelete="SET NULL"), nullable=True
    ),
    # SLA: when the first response is due (tenant business hours), when the tenant's backup
    # secretaries may take it, how far it has escalated (0 none, 1 warned and raised, 2
    # breached: open to backups, 3 second breach: supervisors), when it was first answered.
    Column("due_at", DateTime(), nullable=True),
    Column("backup_at", DateTime(), nullable=True),
    Column("escalation", Integer, nullable=False, default=0, server_default="0"),
    Column("first_response_at", DateTime(), nullable=True),
    # A claim holds until its lease expires (renewed by heartbeats); a snoozed item waits
    # out of every queue until then.
    Column("lease_expires_at", DateTime(), nullable=True),
    Column("snoozed_until", DateTime(), nullable=True),
    UniqueConstraint("channel", "external_id", name="uq_work_items_channel_external_id"),
    CheckConstraint("status IN ('received', 'queued', 'claimed', 'completed')", name="status"),
    CheckConstraint("channel IN ('sms', 'call', 'email')", name="channel"),
)
# The claim query: waiting items of a pool in serving order.
Index(
    "ix_work_items_claim",
    work_items.c.status,
    work_items.c.pool,
    work_items.c.priority_rank,
    work_items.c.due_at,
    work_items.c.created_at,
)
Index("ix_work_items_held_by", work_items.c.held_by, work_items.c.status)
# Repeat senders and the thread fallback: a tenant's items from one sender.
Index("ix_work_items_sender", work_items.c.tenant_id, work_items.c.sender)
# The lease sweep: claimed items whose lease ran out.
Index("ix_work_items_lease", work_items.c.status, work_items.c.lease_expires_at)
# Supervisors' claims of items at the second breach, in serving order across every pool:
# a handful of rows, where without it each supervisor's claim read the whole table (15 ms
# at 100,000 items). Partial, so the claim SQL spells the same condition with literals.
ESCALATED_TO_SUPERVISORS = "status = 'queued' AND escalation >= 3"
Index(
    "ix_work_items_escalated",
    work_items.c.priority_rank,
    work_items.c.due_at,
    work_items.c.created_at,
    work_items.c.id,
    postgresql_where=text(ESCALATED_TO_SUPERVISORS),
    sqlite_where=text(ESCALATED_TO_SUPERVISORS),
)

item_events = Table(
    "item_events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("item_id", BigId, ForeignKey("work_items.id", ondelete="RESTRICT"), nullable=False),
    Column("at", DateTime(), nullable=False),
    Column("actor", String(80), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("data", JSON, nullable=False, default=dict),
)
Index("ix_item_events_item", item_events.c.item_id, item_events.c.id)

# The [agency] table of the config file, one row per key ("name", "inbox"): a key-value
# table, so a new agency-wide setting needs no migration.
agency = Table(
    "agency",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", JSON, nullable=False),
)

# Every message the IMAP connector fetched, raw, stored before its checkpoint advances.
# (mailbox, uidvalidity, uid) makes a re-fetch after a crash find the row it wrote.
mail_messages = Table(
    "mail_messages",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("mailbox", String(200), nullable=False),
    Column("uidvalidity", BigInteger, nullable=False),
    Column("uid", BigInteger, nullable=False),
    Column("raw_sha256", String(64), nullable=False),
    Column("message_id", Text, nullable=True),
    Column("size", Integer, nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Column("fetched_at", DateTime(), nullable=False),
    # stored -> ingested | duplicate | rejected | quarantined
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("error", Text, nullable=True),
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="SET NULL"), nullable=True),
    Column("item_id", BigId, ForeignKey("work_items.id", ondelete="SET NULL"), nullable=True),
    UniqueConstraint("mailbox", "uidvalidity", "uid", name="uq_mail_messages_mailbox_uid"),
    CheckConstraint(
        "status IN ('stored', 'ingested', 'duplicate', 'rejected', 'quarantined')",
        name="status",
    ),
)
Index("ix_mail_messages_sha256", mail_messages.c.raw_sha256)
Index("ix_mail_messages_status", mail_messages.c.status)

# Where the connector is in each mailbox: UIDVALIDITY and the highest UID fully handed over.
mailbox_checkpoints = Table(
    "mailbox_checkpoints",
    metadata,
    Column("mailbox", String(200), primary_key=True),
    Column("uidvalidity", BigInteger, nullable=False),
    Column("last_uid", BigInteger, nullable=False),
    Column("updated_at", DateTime(), nullable=False),
)

# Message-IDs an item's mail carried (its own and those it answered), for threading replies.
item_message_ids = Table(
    "item_message_ids",
    metadata,
    Column("message_id", String(998), primary_key=True),
    Column("item_id", BigId, ForeignKey("work_items.id", ondelete="CASCADE"), primary_key=True),
    Column("tenant_id", String(64), nullable=True),
)
Index("ix_item_message_ids_item", item_message_ids.c.item_id)

# A secretary's correction of triage: the training signal for the next model.
classification_corrections = Table(
    "classification_corrections",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("item_id", BigId, ForeignKey("work_items.id", ondelete="CASCADE"), nullable=False),
    Column("secretary_id", String(64), nullable=False),
    Column("at", DateTime(), nullable=False),
    Column("text", Text, nullable=False),
    Column("language", String(8), nullable=True),
    Column("old_category", String(32), nullable=True),
    Column("new_category", String(32), nullable=False),
    Column("model_version", String(80), nullable=True),
)
Index("ix_classification_corrections_at", classification_corrections.c.at)
