"""From the model's Markdown to what each platform renders, and splitting long replies.

Models answer in CommonMark-ish Markdown. Telegram's legacy `Markdown` mode knows `*bold*`, `_italic_`,
`` `code` ``, fenced blocks and `[text](url)`; Slack's mrkdwn knows `*bold*`, `_italic_`, `~strike~`,
`` `code` ``, fenced blocks and `<url|text>`. Code is never rewritten. Neither knows tables or headings,
so tables become monospaced blocks and headings bold lines. A reply read aloud (`to_speech`) keeps the
words only: no markers, and code is named rather than spelled out.
"""

import re
from collections.abc import Callable

TELEGRAM_MESSAGE_LIMIT = 4096
SLACK_MESSAGE_LIMIT = 39_000  # chat.postMessage truncates text past 40,000 characters

_FENCE = re.compile(r"^\s*(```|~~~)")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_INLINE_CODE = re.compile(r"`[^`\n]+`")


def _segments(text: str) -> list[tuple[bool, str]]:
    """Split into (is_code, text) runs: fenced blocks, and tables turned into fenced blocks."""
    lines = text.replace("\r\n", "\n").split("\n")
    out: list[tuple[bool, str]] = []
    prose: list[str] = []
    i = 0

    def flush() -> None:
        if prose:
            out.append((False, "\n".join(prose)))
            prose.clear()

    while i < len(lines):
        line = lines[i]
        if _FENCE.match(line):
            flush()
            block = ["```"]
            i += 1
            while i < len(lines) and not _FENCE.match(lines[i]):
                block.append(lines[i])
                i += 1
            block.append("```")
            i += 1
            out.append((True, "\n".join(block)))
            continue
        if "|" in line and i + 1 < len(lines) and _TABLE_RULE.match(lines[i + 1]):
            flush()
            table = [line]
            i += 2  # the |---| rule is dropped: the columns are aligned by the monospace font alone
            while i < len(lines) and "|" in lines[i] and lines[i].strip():
                table.append(lines[i])
                i += 1
            out.append((True, "```\n" + "\n".join(_align_table(table)) + "\n```"))
            continue
        prose.append(line)
        i += 1
    flush()
    return out


def _align_table(rows: list[str]) -> list[str]:
    cells = [[c.strip() for c in row.strip().strip("|").split("|")] for row in rows]
    widths = [max(len(r[i]) if i < len(r) else 0 for r in cells) for i in range(max(map(len, cells)))]
    return ["  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip() for r in cells]


def _protect_inline_code(segment: str, convert: Callable[[str], str]) -> str:
    spans: list[str] = []

    def keep(match: re.Match[str]) -> str:
        spans.append(match.group(0))
        return f"\x00{len(spans) - 1}\x00"

    converted = convert(_INLINE_CODE.sub(keep, segment))
    return re.sub(r"\x00(\d+)\x00", lambda m: spans[int(m.group(1))], converted)


def _outside_code(text: str, convert: Callable[[str], str]) -> str:
    """Apply `convert` to prose only: fenced blocks and inline code spans pass through untouched."""
    return "\n".join(
        segment if is_code else _protect_inline_code(segment, convert) for is_code, segment in _segments(text)
    )


_LINK = re.compile(r"\[([^\]\n]+)\]\(([^)\s]+)\)")


def _telegram_prose(text: str) -> str:
    links: list[str] = []

    def keep_link(match: re.Match[str]) -> str:
        label = re.sub(r"[_*`\[\]]", "", match.group(1))
        links.append(f"[{label}]({match.group(2)})")
        return f"\x03{len(links) - 1}\x03"

    text = _LINK.sub(keep_link, text)
    text = re.sub(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", "\x01\\1\x01", text, flags=re.MULTILINE)
    text = re.sub(r"\*\*(.+?)\*\*|__(.+?)__", lambda m: "\x01" + (m.group(1) or m.group(2)) + "\x01", text)
    text = re.sub(r"(?<![*\w])\*(?!\s)([^*\n]+?)\*(?!\w)", "\x02\\1\x02", text)
    text = re.sub(r"(?<!\w)_(?!\s)([^_\n]+?)_(?!\w)", "\x02\\1\x02", text)
    text = re.sub(r"~~(.+?)~~", r"\1", text)
    text = re.sub(r"^(\s*)[-*+]\s+", "\\1• ", text, flags=re.MULTILINE)
    # What is left of the markers is literal text (snake_case, 2*3): escape it so Telegram does not
    # read it as the start of an entity.
    text = re.sub(r"([_*`])", r"\\\1", text)
    text = re.sub(r"\[(?![^\]]*\]\()", r"\\[", text)
    text = re.sub(r"\x03(\d+)\x03", lambda m: links[int(m.group(1))], text)
    return text.replace("\x01", "*").replace("\x02", "_")


def to_telegram_markdown(text: str) -> str:
    """Telegram's legacy `Markdown` parse mode (the forgiving one; MarkdownV2 rejects most model output)."""
    return _outside_code(text, _telegram_prose)


def _slack_prose(text: str) -> str:
    text = re.sub(r"\[([^\]]+)\]\((https?://[^)\s]+|mailto:[^)\s]+)\)", r"<\2|\1>", text)
    text = re.sub(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", "\x01\\1\x01", text, flags=re.MULTILINE)
    text = re.sub(r"\*\*(.+?)\*\*|__(.+?)__", lambda m: "\x01" + (m.group(1) or m.group(2)) + "\x01", text)
    text = re.sub(r"(?<![*\w])\*(?!\s)([^*\n]+?)\*(?!\w)", r"_\1_", text)
    text = re.sub(r"~~(.+?)~~", r"~\1~", text)
    text = re.sub(r"^(\s*)[-*+]\s+", "\\1• ", text, flags=re.MULTILINE)
    return text.replace("\x01", "*")


def to_slack_mrkdwn(text: str) -> str:
    return _outside_code(text, _slack_prose)


def _speech_prose(text: str) -> str:
    text = _LINK.sub(r"\1", text)
    text = re.sub(r"^\s{0,3}#{1,6}\s+", "", text, flags=re.MULTILINE)
    text = re.sub(r"^\s*(?:[-*+•]|\d+[.)])\s+", "", text, flags=re.MULTILINE)
    text = re.sub(r"^\s*>\s?", "", text, flags=re.MULTILINE)
    text = re.sub(r"(?<!\w)_+|_+(?!\w)", "", text)  # emphasis, not snake_case
    return re.sub(r"[*~`|#]+", "", text)


def to_speech(text: str, limit: int) -> str:
    """What a voice reads aloud: the prose of the reply without Markdown, code blocks and tables named in
    a few words, at most `limit` characters, cut at the end of a sentence when there is one."""
    spoken = "\n".join(
        "(code shown in the text reply)" if is_code else _speech_prose(segment)
        for is_code, segment in _segments(text)
    )
    spoken = re.sub(r"[ \t]+", " ", re.sub(r"\n{2,}", "\n", spoken)).strip()
    if len(spoken) <= limit:
        return spoken
    window = spoken[:limit]
    end = max(window.rfind(". "), window.rfind("! "), window.rfind("? "), window.rfind("\n"))
    return window[: end + 1].strip() if end > limit // 2 else window.rsplit(" ", 1)[0]


def utf16_len(text: str) -> int:
    """Telegram counts message length in UTF-16 code units (an emoji is two)."""
    return len(text.encode("utf-16-le")) // 2


def split_message(text: str, limit: int = TELEGRAM_MESSAGE_LIMIT) -> list[str]:
    """Split into parts of at most `limit` UTF-16 units, at a paragraph, line or word break when there is
    one; a code block cut in two is closed at the end of one part and reopened in the next."""
    parts: list[str] = []
    rest = text.strip()
    reopen = ""
    while rest:
        rest = reopen + rest
        if utf16_len(rest) <= limit:
            parts.append(rest)
            break
        # Leave room for a closing fence in case the cut lands inside a code block.
        budget = limit - 4
        cut = _cut_point(rest, budget)
        head, rest = rest[:cut].rstrip(), rest[cut:].lstrip("\n")
        if head.count("```") % 2 == 1:
            head += "\n```"
            reopen = "```\n"
        else:
            reopen = ""
        parts.append(head)
    return [p for p in parts if p.strip()]


def _cut_point(text: str, budget: int) -> int:
    # The longest prefix within budget, in characters.
    end = 0
    units = 0
    for ch in text:
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > budget:
            break
        end += 1
    window = text[:end]
    for separator in ("\n\n", "\n", " "):
        at = window.rfind(separator)
        if at > end // 2:
            return at + len(separator)
    return end
