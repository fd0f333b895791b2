"""Appends racing on one conversation, each on its own connection as the
runtime role: seq stays gapless and unique, message_count exact, and one
client_msg_id stores one message however many callers race with it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from as_user import acting_as, call
from races import run_together, wait_for_lock_waiters

WRITERS = 16
APPENDS_PER_WRITER = 25
RACERS = 8


def test_concurrent_writers_get_gapless_unique_seq(connect_as, user_a, conversation, db):
    connections = [connect_as("chat_test_app") for _ in range(WRITERS)]

    def write(i):
        return [call(connections[i], user_a, "select seq from chat.append_message(%s, 'user', %s)",
                     [conversation, f"writer {i} message {n}"])[0][0]
                for n in range(APPENDS_PER_WRITER)]

    results = run_together(WRITERS, write)
    total = WRITERS * APPENDS_PER_WRITER
    returned = sorted(seq for seqs in results for seq in seqs)
    assert returned == list(range(1, total + 1))
    # each writer saw its own appends in increasing order
    assert all(seqs == sorted(seqs) for seqs in results)
    stored = [r[0] for r in db.execute(
        "select seq from chat.messages where conversation_id = %s order by seq", [conversation])]
    assert stored == list(range(1, total + 1))
    assert db.execute("select message_count from chat.conversations where id = %s",
                      [conversation]).fetchone()[0] == total


def test_racers_with_one_client_msg_id_store_one_message(connect_as, user_a, conversation, db, app_conn):
    connections = [connect_as("chat_test_app") for _ in range(RACERS)]
    # Hold the conversation's lock until every racer is queued behind it, so
    # that all of them are inside append_message at the same time.
    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        with acting_as(app_conn, user_a):
            app_conn.execute("select from chat.conversations where id = %s for update", [conversation])
            futures = [pool.submit(call, connections[i], user_a,
                                   "select id, seq, replayed from chat.append_message(%s, 'user', 'same', '{}', 'k-1')",
                                   [conversation]) for i in range(RACERS)]
            wait_for_lock_waiters(db, RACERS)
        # committed: the lock is released and the racers go
        results = [f.result()[0] for f in futures]

    assert len({(message_id, seq) for message_id, seq, _ in results}) == 1
    assert sorted(replayed for _, _, replayed in results) == [False] + [True] * (RACERS - 1)
    assert db.execute("select count(*), max(message_count) from chat.messages m join chat.conversations c "
                      "on c.id = m.conversation_id where c.id = %s", [conversation]).fetchone() == (1, 1)


def test_racers_with_one_client_msg_id_and_different_payloads(connect_as, user_a, conversation, db, app_conn):
    connections = [connect_as("chat_test_app") for _ in range(RACERS)]

    def attempt(i):
        try:
            return call(connections[i], user_a,
                        "select replayed from chat.append_message(%s, 'user', %s, '{}', 'k-2')",
                        [conversation, f"payload {i % 2}"])[0][0]
        except Exception as error:  # the loser's error is the result under test
            return getattr(error, "sqlstate", repr(error))

    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        with acting_as(app_conn, user_a):
            app_conn.execute("select from chat.conversations where id = %s for update", [conversation])
            futures = [pool.submit(attempt, i) for i in range(RACERS)]
            wait_for_lock_waiters(db, RACERS)
        outcomes = [f.result() for f in futures]

    stored = db.execute("select content from chat.messages where conversation_id = %s", [conversation]).fetchall()
    assert len(stored) == 1
    winner_parity = int(stored[0][0][-1])
    for i, outcome in enumerate(outcomes):
        if i % 2 == winner_parity:
            assert outcome in (False, True)
        else:
            assert outcome == "23505"
    assert outcomes.count(False) == 1
