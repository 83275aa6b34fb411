"""The fetch plan (daemon/intake/order.py): small mail first, one sender's mail in UID order, and a
watermark that never passes a message not yet handed over."""
from __future__ import annotations

from daemon.intake.order import SMALL_BYTES, FetchPlan, Planned, sender_key

BIG = SMALL_BYTES * 10


def drain(plan: FetchPlan, max_bytes: int = 10**9, max_count: int = 50) -> list[tuple[list[int], int]]:
    """[(uids of each batch, watermark after it)] until the plan is empty."""
    out = []
    while plan:
        batch = [p.uid for p in plan.next_batch(max_bytes, max_count)]
        for uid in batch:
            plan.done(uid)
        out.append((batch, plan.watermark))
    return out


def test_small_mail_overtakes_large_mail_of_other_senders():
    plan = FetchPlan(10)
    plan.add([Planned(11, BIG, "a@x"), Planned(12, BIG, "b@x"), Planned(13, 500, "c@x"), Planned(14, 800, "d@x")])
    assert drain(plan) == [([13, 14], 10), ([11], 11), ([12], 14)]


def test_a_senders_small_mail_waits_for_its_earlier_large_one():
    plan = FetchPlan(0)
    plan.add([Planned(1, BIG, "a@x"), Planned(2, BIG, "b@x"), Planned(3, 500, "c@x"), Planned(4, 500, "a@x")])
    assert [b for b, _ in drain(plan)] == [[3], [1], [4], [2]]


def test_batches_keep_their_limits_and_the_watermark_its_word():
    plan = FetchPlan(0)
    plan.add([Planned(u, 400, f"s{u}@x") for u in range(1, 8)])
    got = drain(plan, max_bytes=1000, max_count=2)
    assert [b for b, _ in got] == [[1, 2], [3, 4], [5, 6], [7]]
    assert [w for _, w in got] == [2, 4, 6, 7]


def test_mail_added_mid_plan_is_planned_once_and_small_goes_first():
    plan = FetchPlan(0)
    plan.add([Planned(1, BIG, "a@x"), Planned(2, BIG, "b@x")])
    assert [p.uid for p in plan.next_batch(10**9, 50)] == [1]
    plan.done(1)
    plan.add([Planned(2, BIG, "b@x"), Planned(3, 300, "c@x")])      # "N:*" may repeat what is planned
    assert [p.uid for p in plan.next_batch(10**9, 50)] == [3]
    plan.done(3)
    assert plan.watermark == 1                                      # 2 is still to come
    assert [p.uid for p in plan.next_batch(10**9, 50)] == [2]
    plan.done(2)
    assert plan.watermark == 3 and not plan


def test_sender_key_reads_the_address_only():
    assert sender_key(b'"=?utf-8?B?5byg5LiJ?=" <Zhang.San+x@QQ.com>') == "zhang.san+x@qq.com"
    assert sender_key(b"undisclosed") == "" and sender_key(None) == ""
