"""Exceptions with messages a person can act on; the CLI, API and UI show them as they are."""

from __future__ import annotations


class TidingsError(Exception):
    """Base class: `str(error)` is the one line shown to the user."""


class FetchError(TidingsError):
    """A URL could not be fetched (network, HTTP status, size or time limit)."""


class BlockedURLError(FetchError):
    """The SSRF guard refused a URL (private, loopback, link-local or multicast target)."""


class FeedParseError(TidingsError):
    """A response is not a feed Tidings can read."""


class DiscoveryError(TidingsError):
    """No feed could be found on a site URL."""


class ExtractionError(TidingsError):
    """No article text could be extracted from a page."""


class NotFoundError(TidingsError):
    """A source or article does not exist."""


class InvalidInputError(TidingsError):
    """A user-supplied value is malformed (a bad URL, a missing file)."""
