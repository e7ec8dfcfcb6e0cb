"""Well-known MCP servers the dashboard offers under "add from catalog"."""

from nova_contracts.orchestrator import McpCatalogEntry


def _npx(name: str, title: str, category: str, package: str, description: str, *extra: str,
         env: tuple[str, ...] = ()) -> McpCatalogEntry:  # fmt: skip
    return McpCatalogEntry(
        name=name, title=title, category=category, package=package, description=description,
        command="npx", args=["-y", package, *extra], required_env=list(env),
    )  # fmt: skip


def _uvx(
    name: str, title: str, category: str, package: str, description: str, *extra: str
) -> McpCatalogEntry:
    return McpCatalogEntry(
        name=name, title=title, category=category, package=package, description=description,
        command="uvx", args=[package, *extra],
    )  # fmt: skip


CATALOG: list[McpCatalogEntry] = [
    _npx("filesystem", "Filesystem", "core", "@modelcontextprotocol/server-filesystem",
         "Read, write and navigate files", "/workspace"),
    _uvx("git", "Git", "core", "mcp-server-git", "Log, diff, status and commit in Git repositories",
         "--repository", "/workspace"),
    _npx("memory", "Memory", "core", "@modelcontextprotocol/server-memory",
         "Persistent key-value memory that survives across sessions"),
    _npx("github", "GitHub", "development", "@modelcontextprotocol/server-github",
         "Repositories, issues, pull requests and code search", env=("GITHUB_PERSONAL_ACCESS_TOKEN",)),
    _npx("gitlab", "GitLab", "development", "@modelcontextprotocol/server-gitlab",
         "GitLab projects, merge requests and issues", env=("GITLAB_PERSONAL_ACCESS_TOKEN",)),
    _npx("brave-search", "Brave Search", "web", "@modelcontextprotocol/server-brave-search",
         "Web and local search through the Brave Search API", env=("BRAVE_API_KEY",)),
    _uvx("fetch", "Fetch", "web", "mcp-server-fetch", "Fetch URLs and convert pages to Markdown"),
    _npx("puppeteer", "Puppeteer", "web", "@modelcontextprotocol/server-puppeteer",
         "Browser automation: screenshots, clicks, forms, scraping"),
    _npx("postgres", "PostgreSQL", "databases", "@modelcontextprotocol/server-postgres",
         "Query a PostgreSQL database (read-only)", "postgresql://localhost/mydb"),
    _uvx("sqlite", "SQLite", "databases", "mcp-server-sqlite", "Read and query SQLite database files",
         "--db-path", "/workspace/db.sqlite"),
    _npx("sequential-thinking", "Sequential Thinking", "reasoning",
         "@modelcontextprotocol/server-sequential-thinking", "Structured multi-step reasoning"),
    _npx("slack", "Slack", "communication", "@modelcontextprotocol/server-slack",
         "Read channels, send messages and search Slack", env=("SLACK_BOT_TOKEN", "SLACK_TEAM_ID")),
    _npx("cloudflare", "Cloudflare", "infrastructure", "@cloudflare/mcp-server-cloudflare",
         "Workers, KV, R2, D1, DNS and Tunnels", env=("CLOUDFLARE_API_TOKEN", "CLOUDFLARE_ACCOUNT_ID")),
    _npx("tailscale", "Tailscale", "infrastructure", "@hexsleeves/tailscale-mcp-server",
         "Devices, ACLs, DNS and network configuration", env=("TAILSCALE_API_KEY", "TAILSCALE_TAILNET")),
]  # fmt: skip
