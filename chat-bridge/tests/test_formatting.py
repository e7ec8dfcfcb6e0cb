"""Markdown conversion for Telegram and Slack (and for a voice reading a reply aloud), and splitting replies at
Telegram's 4,096-unit limit."""

import pytest
from tests.fakes.telegram_fake import markdown_error

from chat_bridge.formatting import split_message, to_slack_mrkdwn, to_speech, to_telegram_markdown, utf16_len
from chat_bridge.voice_notes import echo

MODEL_ANSWER = """# Plan
Use **bold**, *italic* and `snake_case` code; keep my_variable_name as is.
- first
- second: [docs](https://example.com/a_b)

| name | size |
|------|------|
| a    | 10   |

```python
total = price * qty  # *not* markdown
```
"""


def test_telegram_markdown_of_a_typical_answer_is_accepted_by_telegrams_parser() -> None:
    converted = to_telegram_markdown(MODEL_ANSWER)

    assert markdown_error(converted) is None
    assert "*Plan*" in converted
    assert "*bold*" in converted and "_italic_" in converted
    assert "my\\_variable\\_name" in converted
    assert "[docs](https://example.com/a_b)" in converted
    assert "total = price * qty  # *not* markdown" in converted


def test_slack_mrkdwn_uses_slacks_link_and_emphasis_syntax() -> None:
    converted = to_slack_mrkdwn(MODEL_ANSWER)

    assert "*Plan*" in converted
    assert "*bold*" in converted and "_italic_" in converted
    assert "<https://example.com/a_b|docs>" in converted
    assert "• first" in converted
    assert "total = price * qty  # *not* markdown" in converted


def test_tables_become_aligned_code_blocks() -> None:
    converted = to_telegram_markdown("| a | bb |\n|---|---|\n| ccc | d |")

    assert converted == "```\na    bb\nccc  d\n```"


def test_short_replies_are_not_split() -> None:
    assert split_message("hello") == ["hello"]


def test_long_replies_split_at_paragraphs_within_the_limit() -> None:
    paragraphs = [f"Paragraph {i}: " + "word " * 150 for i in range(20)]

    parts = split_message("\n\n".join(paragraphs))

    assert len(parts) > 1
    assert all(utf16_len(p) <= 4096 for p in parts)
    assert all(p.startswith("Paragraph") for p in parts)
    assert " ".join(" ".join(parts).split()) == " ".join(" ".join(paragraphs).split())


def test_the_limit_counts_utf16_units_so_emoji_heavy_replies_still_fit() -> None:
    parts = split_message("😀" * 5000)

    assert all(utf16_len(p) <= 4096 for p in parts)
    assert "".join(parts) == "😀" * 5000


@pytest.mark.parametrize("lines", [900, 3000])
def test_a_code_block_cut_in_two_is_closed_and_reopened(lines: int) -> None:
    parts = split_message("```\n" + "print('x')\n" * lines + "```")

    assert len(parts) > 1
    for part in parts:
        assert part.count("```") == 2
        assert markdown_error(part) is None


def test_a_reply_read_aloud_keeps_the_words_and_names_code_instead_of_spelling_it():
    reply = "# Plan\nHere is **bold**, _it_ and a [link](https://x.test).\n\n- one\n```python\nprint(1)\n```\nsnake_case stays."

    assert to_speech(reply, 4096) == (
        "Plan\nHere is bold, it and a link.\none\n(code shown in the text reply)\nsnake_case stays."
    )


def test_a_long_reply_read_aloud_stops_at_a_sentence_end_within_the_limit():
    reply = "First sentence is here. " * 10 + "And a last one that runs on"

    spoken = to_speech(reply, 100)

    assert len(spoken) <= 100
    assert spoken.endswith("here.")


def test_the_transcript_is_shown_back_briefly():
    assert echo("hello there") == "🎤 hello there"
    long = echo("word " * 100)
    assert long.startswith("🎤 word") and long.endswith("…") and len(long) < 210
