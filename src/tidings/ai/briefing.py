"""The daily briefing: the day's top stories, each with its multi-source summary.

Site-wide for now (readers' follows arrive with accounts); served as a page, a feed and,
when the owner configures SMTP, an e-mail sent by `tidings briefing --send-to`.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from html import escape
from typing import Any

from tidings.ai.features import Request, ai_service_for
from tidings.ai.provider import AIError
from tidings.config import Settings
from tidings.db.session import Database
from tidings.enrich import stories
from tidings.errors import InvalidInputError, TidingsError

BRIEFING_SIZE = 6


@dataclass(slots=True)
class BriefingStory:
    story_id: int
    title: str
    outlet_count: int
    article_count: int
    items: list[dict[str, Any]] = field(default_factory=list)  # the AI result's items
    pending: bool = False
    error: str | None = None


@dataclass(slots=True)
class Briefing:
    generated_at: datetime
    stories: list[BriefingStory]


def build_briefing(
    database: Database, settings: Settings, *, limit: int = BRIEFING_SIZE, wait_s: float = 0.0
) -> Briefing:
    """Today's top stories with their summaries (pending ones say so; never blocks long)."""
    with database.session() as session:
        cards = stories.top_stories(session, limit=limit)
        picked = [(card.story.id, card.story.title, card.story.source_count,
                   card.story.article_count) for card in cards]  # fmt: skip
    service = ai_service_for(database, settings)
    result: list[BriefingStory] = []
    for story_id, title, outlets, articles in picked:
        entry = BriefingStory(story_id, title, outlets, articles)
        try:
            run = service.request(Request("story", story_id, "summary"), wait_s=wait_s)
            entry.pending = run.status == "pending"
            entry.error = run.error
            entry.items = (run.result or {}).get("items", [])
        except (AIError, TidingsError) as error:
            entry.error = str(error)
        result.append(entry)
    return Briefing(datetime.now(UTC), result)


KIND_PREFIX = {"agreed": "Agreed", "only": "Only", "differ": "Accounts differ"}


def _line(item: dict[str, Any]) -> str:
    prefix = KIND_PREFIX.get(item.get("kind") or "")
    outlets = ", ".join(item.get("outlets") or [])
    head = f"{prefix} ({outlets}): " if prefix and outlets else ""
    return head + str(item["text"])


def briefing_text(briefing: Briefing, base_url: str) -> str:
    lines = [f"Tidings daily briefing — {briefing.generated_at:%A %-d %B %Y}", ""]
    for number, story in enumerate(briefing.stories, 1):
        lines.append(f"{number}. {story.title} ({story.outlet_count} outlets)")
        if story.pending:
            lines.append("   Summary still generating.")
        lines.extend(f"   - {_line(item)}" for item in story.items)
        lines.extend([f"   {base_url}/stories/{story.story_id}", ""])
    return "\n".join(lines)


def briefing_html(briefing: Briefing, base_url: str) -> str:
    parts = [f"<h1>Tidings daily briefing — {briefing.generated_at:%A %-d %B %Y}</h1>"]
    for story in briefing.stories:
        link = f"{base_url}/stories/{story.story_id}"
        parts.append(f'<h2><a href="{escape(link)}">{escape(story.title)}</a></h2>')
        parts.append(f"<p>{story.outlet_count} outlets, {story.article_count} articles</p>")
        items = "".join(f"<li>{escape(_line(item))}</li>" for item in story.items)
        parts.append(f"<ul>{items}</ul>" if items else "<p>Summary still generating.</p>")
    return "\n".join(parts)


def send_briefing(
    settings: Settings, briefing: Briefing, recipients: list[str], base_url: str
) -> None:
    """E-mail the briefing through the owner's SMTP server (TIDINGS_SMTP_*)."""
    if not settings.smtp_host:
        raise InvalidInputError(
            "set TIDINGS_SMTP_HOST (and _PORT, _USERNAME, _PASSWORD) to send e-mail"
        )
    message = EmailMessage()
    message["Subject"] = f"Tidings daily briefing — {briefing.generated_at:%-d %B %Y}"
    message["From"] = settings.smtp_from
    message["To"] = ", ".join(recipients)
    message.set_content(briefing_text(briefing, base_url))
    message.add_alternative(briefing_html(briefing, base_url), subtype="html")
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
            if settings.smtp_starttls and smtp.has_extn("starttls"):
                smtp.starttls()
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        raise TidingsError(
            f"could not send the briefing through {settings.smtp_host}:{settings.smtp_port}: {error}"
        ) from error
