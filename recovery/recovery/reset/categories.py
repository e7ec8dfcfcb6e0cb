"""What each factory-reset category removes: its tables, Redis key patterns (per DB) and files.

Tables are listed children first, the order their rows are deleted in. A few keys are never removed by any
category: the rotated admin secret (`nova:config:auth.*`, else a reset could lock the admin out) and
recovery's own operation keys. Agents (Redis DB 2), pods and MCP servers belong to no category: they are
configuration a user builds by hand, and a reset that wipes them by surprise is worse than none.
"""

from dataclasses import dataclass

from nova_contracts.recovery import RedisPattern, ResetCategory, ResetCategoryName

PROTECTED_KEY_PATTERNS = ("nova:config:auth.*", "nova:recovery:*", "nova:system:*")


@dataclass(frozen=True)
class TableRule:
    table: str
    # Rows kept by the reset (SQL on the table's own columns); None deletes every row.
    keep_where: str | None = None


@dataclass(frozen=True)
class Category:
    name: ResetCategoryName
    title: str
    description: str
    tables: tuple[TableRule, ...]
    redis: tuple[tuple[int, str], ...]
    removes_backups: bool = False

    def describe(self) -> ResetCategory:
        return ResetCategory(
            name=self.name,
            title=self.title,
            description=self.description,
            tables=[rule.table for rule in self.tables],
            redis=[RedisPattern(db=db, pattern=pattern) for db, pattern in self.redis],
            files=["backups/nova-backup-*.tar (except the one made before this reset)"]
            if self.removes_backups
            else [],
        )


CATEGORIES: tuple[Category, ...] = (
    Category(
        ResetCategoryName.CHAT_HISTORY,
        "Chat history",
        "Dashboard conversations and their messages, chat-api sessions and the bridges' per-chat history.",
        (TableRule("messages"), TableRule("conversations")),
        ((3, "nova:chat:*"), (4, "nova:bridge:history:*")),
    ),
    Category(
        ResetCategoryName.PIPELINE_HISTORY,
        "Pipeline history",
        "Pipeline tasks with their events, findings, reviews and artifacts, and the queues that hold them.",
        (
            TableRule("pipeline_task_events"),
            TableRule("pipeline_findings"),
            TableRule("pipeline_reviews"),
            TableRule("pipeline_artifacts"),
            TableRule("pipeline_tasks"),
        ),
        ((2, "nova:pipeline:*"), (2, "nova:task:*")),
    ),
    Category(
        ResetCategoryName.MEMORIES,
        "Memories",
        "Every memory and fact with its revisions, access counts, merges, keyword statistics and embeddings.",
        (
            TableRule("memory_access"),
            TableRule("fact_revisions"),
            TableRule("memory_merges"),
            TableRule("memories"),
            TableRule("keyword_lexemes"),
            TableRule("keyword_corpus"),
            TableRule("reembed_jobs"),
            TableRule("embedding_cache"),
        ),
        ((0, "nova:memory:*"),),
    ),
    Category(
        ResetCategoryName.GOALS_AND_CORTEX,
        "Goals and cortex state",
        "Goals with their iterations, reflections and comments; cortex's state, drives, inbox and journal.",
        (
            TableRule("goal_comments"),
            TableRule("goal_reflections"),
            TableRule("goal_iterations"),
            TableRule("goals"),
        ),
        ((5, "nova:cortex:*"),),
    ),
    Category(
        ResetCategoryName.FEEDS_AND_KNOWLEDGE,
        "Feeds and knowledge",
        "What the intel and knowledge workers collected and their cursors (their Redis DBs 6 and 8).",
        (),
        ((6, "nova:*"), (8, "nova:*")),
    ),
    Category(
        ResetCategoryName.API_KEYS,
        "API keys",
        "Every API key (clients using one stop working) and its cached lookups and rate-limit counters.",
        (TableRule("api_keys"),),
        ((1, "nova:auth:apikey:*"), (2, "nova:auth:apikey:*"), (9, "nova:voice:apikey:*")),
    ),
    Category(
        ResetCategoryName.PROVIDER_KEYS_AND_SETTINGS,
        "Provider keys and platform settings",
        "Platform settings and the provider keys stored in them, and their mirror in Redis DB 1 (the admin "
        "secret's rotation is kept). Keys written in .env are not touched.",
        (TableRule("platform_config", keep_where="key LIKE 'auth.%'"),),
        ((1, "nova:config:*"),),
    ),
    Category(
        ResetCategoryName.BACKUPS,
        "Backups",
        "Every backup archive except the one taken just before this reset.",
        (),
        (),
        removes_backups=True,
    ),
)
BY_NAME = {category.name: category for category in CATEGORIES}
