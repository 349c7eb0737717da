"""A worker (or a process sharing one SQLite file) changes its own last save of a chat
without reading it again, and never over what another worker or process saved or forgot
since: the same promises for the SQLite and the Redis store (`bot.store.copies`)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot.conversation import Conversation
from bot.store.redis import RedisStore
from bot.store.sqlite import SqliteStore
from tests.redis_server import redis_server

Store = SqliteStore | RedisStore


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(params=["sqlite", "redis"])
async def workers(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Store, Store]]:
    """Two stores over the same data: two Redis workers, or two processes' SQLite stores
    on one file."""
    one: Store
    two: Store
    if request.param == "sqlite":
        one, two = SqliteStore(tmp_path / "shared.db"), SqliteStore(tmp_path / "shared.db")
    else:
        url = request.getfixturevalue("redis_url")
        prefix = f"w{uuid.uuid4().hex[:8]}"
        one, two = RedisStore.from_url(url, prefix), RedisStore.from_url(url, prefix)
    yield one, two
    await one.close()
    await two.close()


async def test_a_worker_changes_its_own_last_save_without_loading_it(
    workers: tuple[Store, Store],
) -> None:
    one, two = workers
    saved = await one.save(Conversation(chat_id="7", state="a"), update_id=1)
    await two.forget("8")  # any other work in between
    load = one.load

    async def no_read(chat_id: str) -> Conversation | None:
        raise AssertionError("the copy is read, not the store")

    one.load = no_read  # type: ignore[method-assign]
    copy = await one.load_to_change("7")
    one.load = load  # type: ignore[method-assign]
    assert copy == saved
    assert copy is not None
    again = await one.save(replace(copy, state="b"), update_id=2)
    assert isinstance(again, Conversation) and again.version == 2
    assert await two.load("7") == again


async def test_a_copy_another_worker_saved_over_is_refused_then_loaded_afresh(
    workers: tuple[Store, Store],
) -> None:
    one, two = workers
    first = await one.save(Conversation(chat_id="7", state="a"))
    assert isinstance(first, Conversation)
    second = await two.save(replace(first, state="b"))  # the chat's next update went to two
    stale = await one.load_to_change("7")
    assert stale == first
    assert await one.save(replace(first, state="c"), update_id=3) is None
    assert await one.load_to_change("7") == second  # loaded again after the refusal
    assert await two.seen("7", 3) is False  # the refused save recorded nothing


async def test_a_chat_forgotten_and_built_up_again_to_the_same_version_is_not_overwritten(
    workers: tuple[Store, Store],
) -> None:
    one, two = workers
    first = await one.save(Conversation(chat_id="7", state="old", answers={"name": "Sam"}))
    assert isinstance(first, Conversation) and first.version == 1
    await two.forget("7")
    rebuilt = await two.save(Conversation(chat_id="7", state="new"))
    assert isinstance(rebuilt, Conversation) and rebuilt.version == 1  # the same version
    stale = await one.load_to_change("7")
    assert stale is not None and stale.answers == {"name": "Sam"}
    assert await one.save(replace(stale, state="moved")) is None
    assert await two.load("7") == rebuilt  # what was forgotten stays forgotten


async def test_a_copy_of_a_chat_another_worker_forgot_writes_nothing(
    workers: tuple[Store, Store],
) -> None:
    one, two = workers
    first = await one.save(Conversation(chat_id="7", answers={"name": "Sam"}))
    assert isinstance(first, Conversation)
    await two.forget("7")
    stale = await one.load_to_change("7")
    assert stale == first
    assert await one.save(replace(first, state="b"), update_id=4) is None
    assert await two.load("7") is None  # nothing came back
    assert await one.load_to_change("7") is None


async def test_forget_drops_the_workers_copy(workers: tuple[Store, Store]) -> None:
    one, _two = workers
    await one.save(Conversation(chat_id="7", answers={"name": "Sam"}))
    await one.forget("7")
    assert await one.load_to_change("7") is None


async def test_a_purge_drops_every_copy(workers: tuple[Store, Store]) -> None:
    one, two = workers
    await one.save(Conversation(chat_id="7", answers={"name": "Sam"}))
    assert await two.purge(0) == 1
    assert await one.purge(0) == 0
    assert await one.load_to_change("7") is None
