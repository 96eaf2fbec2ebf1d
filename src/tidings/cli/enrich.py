"""`tidings enrich` and `tidings stories`: run enrichment by hand and look at its stories."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from tidings.cli.common import app, console, database_from_env, friendly_errors
from tidings.config import get_settings
from tidings.enrich import stories
from tidings.web.timefmt import relative_time


@app.command()
@friendly_errors
def enrich(
    everything: Annotated[
        bool, typer.Option("--all", help="Re-enrich every article, not only new and changed ones")
    ] = False,
) -> None:
    """Detect language, hashtags, duplicates and stories for stored articles."""
    from tidings.enrich.service import enricher_for

    settings = get_settings()
    report = enricher_for(database_from_env(settings), settings).enrich_pending(
        everything=everything
    )
    rate = report.enriched / report.seconds if report.seconds else 0.0
    console.print(
        f"Enriched {report.enriched} article(s) in {report.seconds:.1f} s ({rate:.0f}/s): "
        f"{report.duplicates} duplicate(s), {len(report.stories_touched)} story(ies) updated"
    )


@app.command(name="stories")
@friendly_errors
def list_stories(
    limit: Annotated[int, typer.Option(help="How many top stories to show")] = 10,
) -> None:
    """The top stories: breadth of coverage x recency, as on the front page."""
    settings = get_settings()
    with database_from_env(settings).session() as session:
        cards = stories.top_stories(session, limit=limit)
        table = Table("id", "story", "outlets", "articles", "latest")
        for card in cards:
            story = card.story
            table.add_row(
                str(story.id),
                story.title,
                str(story.source_count),
                str(story.article_count),
                relative_time(story.last_published_at),
            )
    if not cards:
        console.print("No stories yet: refresh some sources first (`tidings refresh`).")
        return
    console.print(table)
