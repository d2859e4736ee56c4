"""All ORM models, re-exported so Alembic sees every table."""

from dialer.db.base import Base
from dialer.models.account import Account, AccountStatus, ApiKey, PlanType
from dialer.models.batch import Batch, BatchStatus
from dialer.models.collection import (
    OutboxEvent,
    Payment,
    Promise,
    RecoveryStat,
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookSubscription,
)
from dialer.models.job import CallAttempt, Job
from dialer.models.ledger import EntryKind, LedgerEntry
from dialer.models.misc import (
    CallStat,
    ContactLog,
    DoNotCall,
    Event,
    LegalStop,
    ProviderConfig,
    Script,
    SimulatedCall,
    WebhookReceipt,
    WorkerHeartbeat,
)
from dialer.models.user import AuditEntry, DashboardSession, Role, User

__all__ = [
    "Account",
    "AccountStatus",
    "ApiKey",
    "AuditEntry",
    "Base",
    "Batch",
    "BatchStatus",
    "CallAttempt",
    "CallStat",
    "ContactLog",
    "DashboardSession",
    "DoNotCall",
    "EntryKind",
    "Event",
    "Job",
    "LedgerEntry",
    "LegalStop",
    "OutboxEvent",
    "Payment",
    "PlanType",
    "Promise",
    "ProviderConfig",
    "RecoveryStat",
    "Role",
    "Script",
    "SimulatedCall",
    "User",
    "WebhookDelivery",
    "WebhookDeliveryAttempt",
    "WebhookReceipt",
    "WebhookSubscription",
    "WorkerHeartbeat",
]
