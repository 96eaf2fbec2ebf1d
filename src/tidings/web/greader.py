"""The Google Reader API (as FreshRSS and Miniflux speak it) under /api/greader.

Readers such as newsboat, Reeder, NetNewsWire, ReadYou and FeedMe use Tidings as their
server with it: the server URL is `https://HOST/api/greader`. Handlers parse the request,
call readers/greader.py and render; docs/greader.md lists the endpoints.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from tidings.accounts.client_login import client_login, edit_token
from tidings.accounts.service import AuthError
from tidings.db.models import Article, User
from tidings.errors import InvalidInputError
from tidings.readers import greader
from tidings.web.account_pages import sign_in_allowed
from tidings.web.auth import acts_as_admin, api_credential, current_user
from tidings.web.deps import database_of, settings_of
from tidings.web.greader_items import atom_feed, item_ref, json_item, microseconds

router = APIRouter(prefix="/api/greader")
API = "/reader/api/0"
MAX_ITEMS = 1000  # per stream/contents page
MAX_IDS = 10_000  # per stream/items/ids page
SIGN_IN_FIRST = (
    "sign in first: POST Email and Passwd (your password or an API token) to "
    "/api/greader/accounts/ClientLogin, then send 'Authorization: GoogleLogin auth=…'"
)


class Params:
    """A request's parameters, query string and form body together (clients use both)."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._pairs = pairs

    def get(self, name: str, default: str = "") -> str:
        return next((value for key, value in self._pairs if key == name), default)

    def getlist(self, name: str) -> list[str]:
        return [value for key, value in self._pairs if key == name and value]


async def _params(request: Request) -> Params:
    pairs = list(request.query_params.multi_items())
    if request.method == "POST":
        if request.headers.get("content-type", "").startswith("multipart/"):
            form = await request.form()
            pairs += [(key, value) for key, value in form.multi_items() if isinstance(value, str)]
        else:  # urlencoded, or sent without a content type (curl's -d, some apps)
            body = (await request.body()).decode("utf-8", "replace")
            pairs += parse_qsl(body, keep_blank_values=True)
    return Params(pairs)


Form = Annotated[Params, Depends(_params)]


@dataclass(frozen=True)
class Caller:
    user: User
    credential: str


def _caller(request: Request) -> Caller:
    """The reader behind the request's credential (never a browser cookie: no CSRF here)."""
    credential = api_credential(request)
    user = current_user(request) if credential else None
    if credential is None or user is None:
        raise HTTPException(401, SIGN_IN_FIRST)
    return Caller(user, credential)


def _bad_edit_token(request: Request, caller: Caller, params: Params) -> Response | None:
    """A 401 unless the request carries the edit token (`T`) of this credential."""
    expected = edit_token(caller.credential, settings_of(request).secret_key)
    if hmac.compare_digest(params.get("T").strip().encode(), expected.encode()):
        return None
    return PlainTextResponse(
        "missing or wrong edit token T: GET /api/greader/reader/api/0/token and send it as T",
        status_code=401,
        headers={"X-Reader-Google-Bad-Token": "true"},
    )


# -- signing in ---------------------------------------------------------------------------


@router.api_route("/accounts/ClientLogin", methods=["GET", "POST"])
def client_login_view(request: Request, params: Form) -> Response:
    """E-mail and password (or API token) in, `Auth` credential out."""
    email, password = params.get("Email"), params.get("Passwd")
    if not email or not password:
        return PlainTextResponse("Error=BadAuthentication\nInfo=send Email and Passwd\n", 401)
    if not sign_in_allowed(request):
        return PlainTextResponse("Error=TooManyRequests\nInfo=wait a minute\n", 429)
    try:
        with database_of(request).session() as session:
            auth = client_login(session, email, password, settings_of(request).secret_key)
    except AuthError as error:
        return PlainTextResponse(f"Error=BadAuthentication\nInfo={error}\n", 401)
    if params.get("output") == "json":
        return JSONResponse({"SID": auth, "LSID": auth, "Auth": auth})
    return PlainTextResponse(f"SID={auth}\nLSID={auth}\nAuth={auth}\n")


@router.get(API + "/token")
def token(request: Request) -> Response:
    caller = _caller(request)
    return PlainTextResponse(edit_token(caller.credential, settings_of(request).secret_key))


@router.get(API + "/user-info")
def user_info(request: Request) -> dict[str, Any]:
    user = _caller(request).user
    return {
        "userId": str(user.id),
        "userName": user.display_name,
        "userProfileId": str(user.id),
        "userEmail": user.email,
        "isBloggerUser": False,
        "signupTimeSec": int(user.created_at.timestamp()),
        "isMultiLoginEnabled": False,
    }


# -- subscriptions and folders ------------------------------------------------------------


@router.get(API + "/subscription/list")
def subscription_list(request: Request) -> dict[str, Any]:
    """The sources the reader follows, each in its folder."""
    user = _caller(request).user
    with database_of(request).session() as session:
        rows = greader.subscriptions(session, user)
        return {
            "subscriptions": [
                {
                    "id": f"{greader.FEED_PREFIX}{source.id}",
                    "title": source.name,
                    "categories": (
                        [{"id": greader.LABEL_PREFIX + folder, "label": folder}] if folder else []
                    ),
                    "url": source.feed_url,
                    "htmlUrl": source.site_url or source.feed_url,
                    "iconUrl": "",
                    "firstitemmsec": str(int(source.created_at.timestamp() * 1000)),
                }
                for source, folder in rows
            ]
        }


@router.get(API + "/tag/list")
def tag_list(request: Request) -> dict[str, Any]:
    user = _caller(request).user
    with database_of(request).session() as session:
        names = greader.folder_names(session, user)
    tags: list[dict[str, str]] = [{"id": greader.STARRED}]
    tags += [{"id": greader.LABEL_PREFIX + name, "label": name, "type": "folder"} for name in names]
    return {"tags": tags}


@router.get(API + "/unread-count")
def unread_count(request: Request) -> dict[str, Any]:
    user = _caller(request).user
    with database_of(request).session() as session:
        counts = greader.unread_counts(session, user)
    return {
        "max": MAX_ITEMS,
        "unreadcounts": [
            {
                "id": count.stream_id,
                "count": count.count,
                "newestItemTimestampUsec": str(microseconds(count.newest)) if count.newest else "0",
            }
            for count in counts
        ],
    }


@router.post(API + "/subscription/quickadd")
def quickadd(request: Request, params: Form) -> Response:
    caller = _caller(request)
    if (refusal := _bad_edit_token(request, caller, params)) is not None:
        return refusal
    url = params.get("quickadd").strip()
    if not url:
        raise InvalidInputError("send the feed or site URL as quickadd=URL")
    source = greader.subscribe(database_of(request), settings_of(request), caller.user, url,
                               may_add_sources=acts_as_admin(request))  # fmt: skip
    return JSONResponse({"numResults": 1, "query": source.feed_url,
                         "streamId": f"{greader.FEED_PREFIX}{source.id}",
                         "streamName": source.name})  # fmt: skip


@router.post(API + "/subscription/edit")
def subscription_edit(request: Request, params: Form) -> Response:
    """ac=subscribe|unsubscribe|edit for s=feed/…; a=/r= a folder label (t is ignored:
    source names are shared by every reader)."""
    caller = _caller(request)
    if (refusal := _bad_edit_token(request, caller, params)) is not None:
        return refusal
    streams = [greader.parse_stream(value) for value in params.getlist("s")]
    if not streams:
        raise InvalidInputError("send the subscription as s=feed/ID (or feed/URL)")
    add = greader.parse_stream(params.get("a")) if params.get("a") else None
    remove = greader.parse_stream(params.get("r")) if params.get("r") else None
    action = params.get("ac")
    database = database_of(request)
    if action == "subscribe":
        folder = add.name if add is not None and add.kind == "label" else ""
        for stream in streams:
            greader.subscribe(database, settings_of(request), caller.user, stream.id, folder,
                              may_add_sources=acts_as_admin(request))  # fmt: skip
    elif action in ("unsubscribe", "edit"):
        with database.session() as session:
            for stream in streams:
                if action == "unsubscribe":
                    greader.unsubscribe(session, caller.user, stream)
                else:
                    greader.move_subscription(session, caller.user, stream, add, remove)
    else:
        raise InvalidInputError("ac must be subscribe, unsubscribe or edit")
    return PlainTextResponse("OK")


@router.post(API + "/rename-tag")
def rename_tag(request: Request, params: Form) -> Response:
    caller = _caller(request)
    if (refusal := _bad_edit_token(request, caller, params)) is not None:
        return refusal
    destination = greader.parse_stream(params.get("dest"))
    if destination.kind != "label":
        raise InvalidInputError("dest must be a folder label: user/-/label/NAME")
    with database_of(request).session() as session:
        greader.rename_label(session, caller.user, greader.parse_stream(params.get("s")),
                             destination.name)  # fmt: skip
    return PlainTextResponse("OK")


@router.post(API + "/disable-tag")
def disable_tag(request: Request, params: Form) -> Response:
    """Remove a folder: what was in it stays followed, in no folder."""
    caller = _caller(request)
    if (refusal := _bad_edit_token(request, caller, params)) is not None:
        return refusal
    with database_of(request).session() as session:
        greader.rename_label(session, caller.user, greader.parse_stream(params.get("s")), "")
    return PlainTextResponse("OK")


# -- streams and items --------------------------------------------------------------------


def _moment(value: str, name: str) -> datetime | None:
    if not value:
        return None
    if not value.isdigit():
        raise InvalidInputError(f"{name} must be a Unix time in seconds, not {value!r}")
    return datetime.fromtimestamp(int(value), UTC)


def _listing(params: Params, stream_id: str, most: int) -> greader.Listing:
    count = params.get("n", "20")
    if not count.isdigit():
        raise InvalidInputError(f"n must be a number of items, not {count!r}")
    return greader.Listing(
        stream=greader.parse_stream(stream_id or greader.READING_LIST),
        include=tuple(greader.parse_stream(value) for value in params.getlist("it")),
        exclude=tuple(greader.parse_stream(value) for value in params.getlist("xt")),
        newer_than=_moment(params.get("ot"), "ot"),
        older_than=_moment(params.get("nt"), "nt"),
        oldest_first=params.get("r") == "o",
        limit=min(max(int(count), 1), most),
        continuation=params.get("c") or None,
    )


def _title(stream: greader.Stream, articles: list[Article]) -> str:
    if stream.kind == "label":
        return stream.name
    if stream.kind == "feed":
        return articles[0].source.name if articles else stream.name
    return {"starred": "Saved", "read": "Read"}.get(stream.name, "For you")


def _contents(request: Request, params: Params, stream_id: str) -> dict[str, Any]:
    user = _caller(request).user
    listing = _listing(params, stream_id, MAX_ITEMS)
    with database_of(request).session() as session:
        articles, continuation = greader.list_stream(session, user, listing)
        states = greader.item_states(session, user, articles)
        body: dict[str, Any] = {
            "direction": "ltr",
            "id": listing.stream.id,
            "title": _title(listing.stream, articles),
            "self": [{"href": str(request.url)}],
            "updated": int(datetime.now(UTC).timestamp()),
            "items": [json_item(article, states) for article in articles],
        }
    if continuation:
        body["continuation"] = continuation
    return body


@router.get(API + "/stream/contents")
def stream_contents_by_query(request: Request, params: Form) -> dict[str, Any]:
    return _contents(request, params, params.get("s"))


@router.get(API + "/stream/contents/{stream_id:path}")
def stream_contents(request: Request, stream_id: str, params: Form) -> dict[str, Any]:
    """A page of a stream's items, whole (newsboat's freshrss backend reads feeds here)."""
    return _contents(request, params, stream_id)


@router.get("/reader/atom/{stream_id:path}")
def atom_stream(request: Request, stream_id: str, params: Form) -> Response:
    """A page of a stream as Atom, Google Reader's original view (newsboat's FeedHQ and
    Inoreader backends read feeds here)."""
    user = _caller(request).user
    listing = _listing(params, stream_id, MAX_ITEMS)
    with database_of(request).session() as session:
        articles, continuation = greader.list_stream(session, user, listing)
        states = greader.item_states(session, user, articles)
        title = _title(listing.stream, articles)
        document = atom_feed(listing.stream.id, title, articles, states, continuation)
    return Response(document, media_type="application/atom+xml; charset=utf-8")


@router.get(API + "/stream/items/ids")
def stream_item_ids(request: Request, params: Form) -> dict[str, Any]:
    user = _caller(request).user
    listing = _listing(params, params.get("s"), MAX_IDS)
    with database_of(request).session() as session:
        articles, continuation = greader.list_stream(session, user, listing)
    body: dict[str, Any] = {"itemRefs": [item_ref(article) for article in articles]}
    if continuation:
        body["continuation"] = continuation
    return body


@router.api_route(API + "/stream/items/contents", methods=["GET", "POST"])
def stream_item_contents(request: Request, params: Form) -> dict[str, Any]:
    """The items asked for by id (i=…, repeated; long or decimal ids), in that order."""
    user = _caller(request).user
    ids = [greader.parse_item_id(value) for value in params.getlist("i")]
    if not ids:
        raise InvalidInputError("no items: send one or more i=<item id>")
    with database_of(request).session() as session:
        articles = greader.articles_by_id(session, ids)
        states = greader.item_states(session, user, articles)
        return {
            "direction": "ltr",
            "id": greader.READING_LIST,
            "updated": int(datetime.now(UTC).timestamp()),
            "items": [json_item(article, states) for article in articles],
        }


# -- read and starred ---------------------------------------------------------------------


@router.post(API + "/edit-tag")
def edit_tag(request: Request, params: Form) -> Response:
    """a=/r= user/-/state/com.google/read (or kept-unread) and …/starred on items i=…."""
    caller = _caller(request)
    if (refusal := _bad_edit_token(request, caller, params)) is not None:
        return refusal
    ids = [greader.parse_item_id(value) for value in params.getlist("i")]
    add = [greader.parse_stream(value) for value in params.getlist("a")]
    remove = [greader.parse_stream(value) for value in params.getlist("r")]
    with database_of(request).session() as session:
        greader.edit_tags(session, caller.user, ids, add, remove)
    return PlainTextResponse("OK")


def _before(value: str) -> datetime | None:
    """`ts` of mark-all-as-read: microseconds as Google Reader sent it (seconds and
    milliseconds are taken too, told apart by size)."""
    if not value:
        return None
    if not value.isdigit():
        raise InvalidInputError(f"ts must be a Unix time in microseconds, not {value!r}")
    number = int(value)
    scale = 1_000_000 if number >= 10**14 else 1_000 if number >= 10**11 else 1
    return datetime.fromtimestamp(number / scale, UTC)


@router.post(API + "/mark-all-as-read")
def mark_all_as_read(request: Request, params: Form) -> Response:
    """Mark a stream's items read (s=…), those Tidings had by ts=… if given."""
    caller = _caller(request)
    if (refusal := _bad_edit_token(request, caller, params)) is not None:
        return refusal
    stream = greader.parse_stream(params.get("s") or greader.READING_LIST)
    with database_of(request).session() as session:
        greader.mark_stream_read(session, caller.user, stream, _before(params.get("ts")))
    return PlainTextResponse("OK")
