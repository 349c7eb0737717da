"""The store contract: one suite, run against every store by subclassing (as transitions does)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from bot import stats
from bot.conversation import Conversation
from bot.reminders import Reminder
from bot.store.protocol import DUPLICATE, ConversationStore


class StoreContract:
    """Subclass and provide a `store` fixture and `traces`."""

    @pytest.fixture
    async def store(self) -> AsyncIterator[ConversationStore]:  # pragma: no cover - overridden
        raise NotImplementedError
        yield

    async def traces(self, store: ConversationStore, chat_id: str) -> list[str]:
        """Whatever the store still keeps about `chat_id` (keys, rows), described."""
        raise NotImplementedError  # pragma: no cover - overridden

    async def stats_storage(self, store: ConversationStore) -> str:
        """Everything the store keeps for stats (raw rows, keys and fields), as text."""
        raise NotImplementedError  # pragma: no cover - overridden

    async def test_load_of_unknown_chat_is_none(self, store: ConversationStore) -> None:
        assert await store.load("nobody") is None

    async def test_save_then_load_round_trips(self, store: ConversationStore) -> None:
        conv = Conversation(
            chat_id="7",
            flow="decline_offer",
            state="tone",
            answers={"company": "Zoë & Co {0}", "reason": "pay"},
            history=("sure", "reason"),
            remembered={"your_name": "Sam"},
        )
        saved = await store.save(conv)
        assert isinstance(saved, Conversation) and saved.version == 1
        loaded = await store.load("7")
        assert loaded == saved

    async def test_save_with_stale_version_is_refused(self, store: ConversationStore) -> None:
        first = await store.save(Conversation(chat_id="8"))
        assert isinstance(first, Conversation)
        second = await store.save(replace(first, state="a"))
        assert isinstance(second, Conversation) and second.version == 2
        assert await store.save(replace(first, state="b")) is None
        loaded = await store.load("8")
        assert loaded is not None and loaded.state == "a"

    async def test_two_new_conversations_for_one_chat_only_one_wins(
        self, store: ConversationStore
    ) -> None:
        results = await asyncio.gather(
            store.save(Conversation(chat_id="9", state="x")),
            store.save(Conversation(chat_id="9", state="y")),
        )
        assert sum(isinstance(r, Conversation) for r in results) == 1

    # -- update ids: applied once ------------------------------------------------------------

    async def test_an_update_id_is_applied_once(self, store: ConversationStore) -> None:
        first = await store.save(Conversation(chat_id="1", state="a"), update_id=100)
        assert isinstance(first, Conversation)
        again = await store.save(replace(first, state="b"), update_id=100)
        assert again is DUPLICATE
        loaded = await store.load("1")
        assert loaded == first  # the duplicate wrote nothing

    async def test_a_duplicate_is_reported_before_a_lost_compare_and_set(
        self, store: ConversationStore
    ) -> None:
        first = await store.save(Conversation(chat_id="1"), update_id=100)
        assert isinstance(first, Conversation)
        stale = Conversation(chat_id="1")  # version 0: would lose the compare-and-set too
        assert await store.save(stale, update_id=100) is DUPLICATE

    async def test_a_lost_compare_and_set_records_no_update_id(
        self, store: ConversationStore
    ) -> None:
        first = await store.save(Conversation(chat_id="1"), update_id=100)
        assert isinstance(first, Conversation)
        assert await store.save(replace(first, version=0), update_id=101) is None
        assert await store.seen("1", 101) is False
        retried = await store.save(replace(first, state="b"), update_id=101)
        assert isinstance(retried, Conversation) and retried.version == 2

    async def test_seen_only_reads_what_a_save_recorded(self, store: ConversationStore) -> None:
        assert await store.seen("1", 100) is False
        assert await store.seen("1", 100) is False  # asking records nothing
        await store.save(Conversation(chat_id="1"), update_id=100)
        assert await store.seen("1", 100) is True
        assert await store.seen("1", 101) is False
        assert await store.seen("2", 100) is False  # ids are per chat

    async def test_update_ids_are_per_chat(self, store: ConversationStore) -> None:
        one = await store.save(Conversation(chat_id="1"), update_id=100)
        two = await store.save(Conversation(chat_id="2"), update_id=100)
        assert isinstance(one, Conversation) and isinstance(two, Conversation)

    async def test_a_save_without_an_update_id_records_none(self, store: ConversationStore) -> None:
        first = await store.save(Conversation(chat_id="1"))
        assert isinstance(first, Conversation)
        second = await store.save(first)
        assert isinstance(second, Conversation) and second.version == 2

    async def test_one_update_saved_concurrently_twice_is_applied_once(
        self, store: ConversationStore
    ) -> None:
        base = await store.save(Conversation(chat_id="3"))
        assert isinstance(base, Conversation)
        results = await asyncio.gather(
            *(store.save(replace(base, state=f"s{i}"), update_id=7) for i in range(4))
        )
        assert sum(isinstance(r, Conversation) for r in results) == 1
        loaded = await store.load("3")
        assert loaded is not None and loaded.version == 2

    # -- privacy -----------------------------------------------------------------------------

    async def test_forget_deletes_everything_for_the_chat(self, store: ConversationStore) -> None:
        saved = await store.save(Conversation(chat_id="5", answers={"company": "Acme"}), 1)
        assert isinstance(saved, Conversation)
        await store.save(saved, update_id=2)
        await store.save(Conversation(chat_id="6"), update_id=1)
        await store.forget("5")
        assert await store.load("5") is None
        assert await store.seen("5", 1) is False
        assert await self.traces(store, "5") == []
        assert await store.load("6") is not None and await store.seen("6", 1)

    async def test_forget_of_an_unknown_chat_does_nothing(self, store: ConversationStore) -> None:
        await store.forget("nobody")
        assert await self.traces(store, "nobody") == []

    async def test_purge_drops_only_idle_conversations(self, store: ConversationStore) -> None:
        await store.save(Conversation(chat_id="old"), update_id=1)
        await asyncio.sleep(0.05)
        cutoff_start = time.time()
        await store.save(Conversation(chat_id="new"), update_id=1)
        removed = await store.purge(time.time() - cutoff_start + 0.02)
        assert removed == 1
        assert await store.load("old") is None
        assert await self.traces(store, "old") == []
        assert await store.load("new") is not None
        assert await store.seen("new", 1) is True

    async def test_a_forgotten_chat_starts_afresh(self, store: ConversationStore) -> None:
        await store.save(Conversation(chat_id="4", state="x"), update_id=9)
        await store.forget("4")
        again = await store.save(Conversation(chat_id="4"), update_id=10)
        assert isinstance(again, Conversation) and again.version == 1

    # -- reminders ---------------------------------------------------------------------------

    async def test_a_reminder_is_claimed_once_when_due_and_again_after_its_lease(
        self, store: ConversationStore
    ) -> None:
        reminder = Reminder("5", "u1", due=1000.0, flow="ask_for_time", choice="days2")
        await store.add_reminder(reminder)
        await store.add_reminder(replace(reminder, due=5.0))  # the same id again: kept as it was
        assert await store.claim_reminders(999.0, 10, 60.0) == []
        claimed = await store.claim_reminders(1000.0, 10, 60.0)
        assert [r.id for r in claimed] == ["u1"] and claimed[0].due == 1000.0
        assert await store.claim_reminders(1001.0, 10, 60.0) == []  # claimed: not again
        again = await store.claim_reminders(1061.0, 10, 60.0)  # the lease ran out: not lost
        assert [r.id for r in again] == ["u1"]
        await store.reminder_sent(again[0], 1062.0)
        assert await store.claim_reminders(9999.0, 10, 60.0) == []
        sent = await store.reminder("5", "u1")
        assert sent is not None and sent.sent_at == 1062.0
        assert await store.pending_reminders("5") == []

    async def test_claims_take_the_soonest_first_up_to_the_limit(
        self, store: ConversationStore
    ) -> None:
        for index in (3, 1, 2):
            await store.add_reminder(Reminder("6", f"r{index}", float(index), "f", "c"))
        first = await store.claim_reminders(10.0, 2, 60.0)
        assert [r.id for r in first] == ["r1", "r2"]
        assert [r.id for r in await store.claim_reminders(10.0, 2, 60.0)] == ["r3"]

    async def test_reminders_are_listed_rescheduled_and_deleted(
        self, store: ConversationStore
    ) -> None:
        await store.add_reminder(Reminder("7", "a", 50.0, "f", "c", answers={"company": "Zoë"}))
        await store.add_reminder(Reminder("7", "b", 20.0, "f", "c"))
        assert [r.id for r in await store.pending_reminders("7")] == ["b", "a"]
        assert await store.reschedule_reminder("7", "b", 90.0)
        assert [r.id for r in await store.claim_reminders(60.0, 10, 5.0)] == ["a"]
        assert await store.delete_reminder("7", "a")
        assert not await store.delete_reminder("7", "a")
        assert not await store.reschedule_reminder("7", "a", 1.0)
        assert await store.drop_reminders("7") == 1
        assert await store.pending_reminders("7") == []
        assert await store.claim_reminders(1e12, 10, 5.0) == []

    async def test_forget_deletes_the_chats_reminders(self, store: ConversationStore) -> None:
        await store.add_reminder(Reminder("8", "a", 50.0, "f", "c", answers={"company": "Zoë"}))
        await store.add_reminder(Reminder("9", "a", 50.0, "f", "c"))
        await store.forget("8")
        assert await store.reminder("8", "a") is None
        assert [r.chat_id for r in await store.claim_reminders(60.0, 10, 5.0)] == ["9"]
        assert await self.traces(store, "8") == []

    async def test_purge_keeps_pending_reminders_and_deletes_old_sent_ones(
        self, store: ConversationStore
    ) -> None:
        now = time.time()
        await store.add_reminder(Reminder("10", "later", now + 86400 * 90, "f", "c"))
        await store.add_reminder(Reminder("10", "old", now - 86400 * 40, "f", "c"))
        (old,) = await store.claim_reminders(now, 10, 5.0)
        await store.reminder_sent(old, now - 86400 * 35)
        await store.purge(86400 * 30)
        assert await store.reminder("10", "old") is None
        assert await store.reminder("10", "later") is not None

    # -- stats counters ----------------------------------------------------------------------

    async def counted(self, store: ConversationStore) -> dict[str, int]:
        return {
            stats.count(row.situation, row.counter): row.n
            for row in await store.tallies(stats.days_back(2))
        }

    async def test_a_winning_save_adds_its_counts_for_today(self, store: ConversationStore) -> None:
        started = stats.count("decline_offer", stats.STARTED)
        stop = stats.count("decline_offer", stats.stopped("reason"))
        first = await store.save(Conversation(chat_id="1"), 1, (started,))
        assert isinstance(first, Conversation)
        await store.save(first, 2, (started, stop))
        rows = await store.tallies([stats.day()])
        assert {r.day for r in rows} == {stats.day()}
        assert await self.counted(store) == {started: 2, stop: 1}

    async def test_a_duplicate_or_a_lost_save_counts_nothing(
        self, store: ConversationStore
    ) -> None:
        started = stats.count("decline_offer", stats.STARTED)
        first = await store.save(Conversation(chat_id="1"), 1, (started,))
        assert isinstance(first, Conversation)
        assert await store.save(first, 1, (started,)) is DUPLICATE
        assert await store.save(Conversation(chat_id="1"), 2, (started,)) is None
        assert await self.counted(store) == {started: 1}

    async def test_forget_counts_and_leaves_the_counters(self, store: ConversationStore) -> None:
        started = stats.count("decline_offer", stats.STARTED)
        await store.save(Conversation(chat_id="3"), 1, (started,))
        await store.forget("3", (stats.FORGET_COUNT,))
        await store.purge(0)
        assert await self.counted(store) == {started: 1, stats.FORGET_COUNT: 1}

    async def test_days_not_asked_for_are_not_read(self, store: ConversationStore) -> None:
        await store.save(Conversation(chat_id="1"), 1, (stats.count("a", stats.STARTED),))
        assert await store.tallies(["1999-01-01"]) == []

    async def test_stats_storage_holds_no_chat_id_or_typed_text(
        self, store: ConversationStore
    ) -> None:
        chat_id, typed = "918273645", "Zanzibarquill Holdings"
        counts = (stats.count("decline_offer", stats.STARTED), stats.FORGET_COUNT)
        await store.save(Conversation(chat_id=chat_id, answers={"company": typed}), 77, counts)
        raw = await self.stats_storage(store)
        assert "decline_offer" in raw  # the scan reads the counters themselves
        for secret in (chat_id, typed, "77"):
            assert secret not in raw
