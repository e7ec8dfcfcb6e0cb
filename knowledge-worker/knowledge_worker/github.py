"""The GitHub extractor: a user's or organisation's profile, repositories by recent activity and the
READMEs of the top ones, through the REST API, with the vault's token when the source has one.

Rate-limit headers are honoured: when `X-RateLimit-Remaining` reaches 0 the extractor stops and the crawl
is partial, with the reset time in its log, instead of hammering the API for 403s.
"""

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from knowledge_worker.documents import DocumentSink
from knowledge_worker.fetch import PageFetcher, Skip
from knowledge_worker.progress import Progress
from nova_contracts.knowledge import KnowledgeSource
from nova_contracts.memory import SourceKind

README_LIMIT = 10_000


class GitHubRateLimited(Exception):
    pass


def github_login(url: str) -> str:
    parts = [p for p in urlsplit(url).path.split("/") if p]
    if not parts:
        raise ValueError(f"{url} names no GitHub user or organisation")
    return parts[0]


class GitHubExtractor:
    def __init__(self, fetcher: PageFetcher, *, api_url: str, readmes: int) -> None:
        self.fetcher = fetcher
        self.api_url = api_url.rstrip("/")
        self.readmes = readmes
        self._exhausted_until: str | None = None

    async def _get(self, path: str, token: str | None, progress: Progress, *, raw: bool = False) -> Any:
        headers = {
            "Accept": "application/vnd.github.raw+json" if raw else "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if self._exhausted_until is not None:
            raise GitHubRateLimited(f"GitHub's rate limit is used up until {self._exhausted_until}")
        page = await self.fetcher.get(f"{self.api_url}{path}", html_only=False, headers=headers)
        progress.fetched += 1
        if page.headers.get("x-ratelimit-remaining") == "0":
            reset = page.headers.get("x-ratelimit-reset", "")
            self._exhausted_until = (
                datetime.fromtimestamp(int(reset), UTC).isoformat(timespec="seconds")
                if reset.isdigit()
                else "later"
            )
        if page.status == 404:
            return None
        if page.status in (403, 429):
            raise GitHubRateLimited(f"GitHub answered {page.status} for {path}")
        if page.status >= 400:
            raise Skip("http_error", f"GitHub answered {page.status} for {path}")
        return page.body.decode("utf-8", errors="replace") if raw else json.loads(page.body)

    async def extract(
        self, source: KnowledgeSource, token: str | None, sink: DocumentSink, progress: Progress
    ) -> None:
        assert source.url is not None
        login = github_login(source.url)
        try:
            profile = await self._get(f"/users/{quote(login)}", token, progress)
            if profile is None:
                raise Skip("http_error", f"GitHub has no user or organisation {login}")
            repos = (
                await self._get(f"/users/{quote(login)}/repos?sort=pushed&per_page=100", token, progress)
                or []
            )
            active = sorted(
                (r for r in repos if not r.get("fork") and not r.get("archived")),
                key=lambda r: r.get("pushed_at") or "",
                reverse=True,
            )
            summary = "\n".join(
                f"- {r['full_name']}: {r.get('description') or 'no description'} "
                f"({r.get('language') or 'unknown language'}, {r.get('stargazers_count', 0)} stars, "
                f"last push {r.get('pushed_at', '?')})"
                for r in active
            )
            about = (
                f"GitHub {profile.get('type', 'account').lower()} {login}"
                + (f" ({profile['name']})" if profile.get("name") else "")
                + (f": {profile['bio']}" if profile.get("bio") else "")
                + (f" Location: {profile['location']}." if profile.get("location") else "")
                + (f" Company: {profile['company']}." if profile.get("company") else "")
                + f"\n\nRepositories by recent activity:\n{summary}"
            )
            await self._offer(
                sink,
                source,
                progress,
                uri=profile.get("html_url") or source.url,
                title=f"GitHub: {login}",
                text=about,
                author=login,
            )
            for repo in active[: self.readmes]:
                readme = await self._get(f"/repos/{repo['full_name']}/readme", token, progress, raw=True)
                if readme is None:
                    progress.skip("no_readme", repo["full_name"])
                    continue
                await self._offer(
                    sink,
                    source,
                    progress,
                    uri=f"{repo['html_url']}#readme",
                    title=f"README of {repo['full_name']}",
                    text=readme[:README_LIMIT],
                    author=login,
                )
        except GitHubRateLimited as exc:
            progress.partial = True
            progress.note(f"{exc}: stopped; try again after the rate-limit reset")
        except Skip as skip:
            progress.skip(skip.reason, str(skip))
            raise

    async def _offer(
        self,
        sink: DocumentSink,
        source: KnowledgeSource,
        progress: Progress,
        *,
        uri: str,
        title: str,
        text: str,
        author: str,
    ) -> None:
        if await sink.offer(source.id, uri=uri, title=title, text=text, kind=SourceKind.API, author=author):
            progress.ingested += 1
        else:
            progress.unchanged += 1
        progress.note(f"{title} read at {datetime.now(UTC).isoformat(timespec='seconds')}")
