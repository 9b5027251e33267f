"""All models, imported here so ``Base.metadata`` is complete for migrations and tests.

Each area keeps its tables in its own module; add the module to this import list.
"""

from billow.db.models import (  # noqa: F401
    automation,
    billing,
    catalog,
    clients,
    core,
    events,
    logs,
    orders,
    outbox,
    support,
)
from billow.db.models.automation import (  # noqa: F401
    AutomationLock,
    AutomationMark,
    AutomationRun,
    AutomationTaskDay,
    AutomationTaskLog,
    PayMethod,
)
from billow.db.models.billing import (  # noqa: F401
    BillableItem,
    CreditLog,
    GatewayLog,
    GatewaySetting,
    Invoice,
    InvoiceItem,
    InvoiceNumberCounter,
    TaxRule,
    Transaction,
)
from billow.db.models.catalog import (  # noqa: F401
    Addon,
    ConfigOption,
    ConfigOptionChoice,
    ConfigOptionGroup,
    Price,
    Product,
    ProductConfigLink,
    ProductGroup,
    Promotion,
    Server,
    ServerGroup,
    ServerGroupMember,
)
from billow.db.models.clients import (  # noqa: F401
    Client,
    ClientGroup,
    ClientNote,
    Contact,
    CustomField,
    CustomFieldValue,
    User,
    UserClient,
)
from billow.db.models.core import (  # noqa: F401
    Admin,
    AdminRole,
    AllowedIP,
    ApiCredential,
    ApiRole,
    ApiRoleAction,
    Currency,
    LoginFailure,
    Setting,
    credential_roles,
)
from billow.db.models.events import (  # noqa: F401
    EmailMessage,
    EmailTemplate,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from billow.db.models.logs import ActivityLog, ApiLog  # noqa: F401
from billow.db.models.orders import (  # noqa: F401
    CancelRequest,
    ModuleLog,
    ModuleQueueEntry,
    ModuleSetting,
    Order,
    Service,
    ServiceAddon,
    ServiceConfigOption,
    Upgrade,
)
from billow.db.models.outbox import OutboxEvent  # noqa: F401
from billow.db.models.support import (  # noqa: F401
    PredefinedReply,
    PredefinedReplyCategory,
    SupportDepartment,
    SupportDepartmentAdmin,
    Ticket,
    TicketAttachment,
    TicketBlockedSender,
    TicketMailLog,
    TicketNote,
    TicketReply,
    TicketStatus,
)
