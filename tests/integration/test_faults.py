"""One fault of each kind (kill -9, a 30 s outage, a restart) under demo traffic, nobody running
`up`: after each, nothing lost or doubled from `payments` to Gold. benchmarks/fault_suite.py runs
every fault of the suite."""

from __future__ import annotations

from fraudlake.platform.context import Context
from tests.integration.fault_harness import FAULTS, run, table, with_demo

KINDS = ("kill -9 postgres", "stop minio 30 s", "restart kafka")


def test_one_fault_of_each_kind_loses_and_doubles_nothing_from_payments_to_gold(ctx: Context) -> None:
    faults = tuple(f for f in FAULTS if f.name in KINDS)
    outcomes = with_demo(ctx, lambda: run(ctx, faults))
    print(table(outcomes))
    assert [o.fault for o in outcomes] == ["none (baseline)", *KINDS]
    assert [o for o in outcomes if not o.clean] == []
    counted = [o.payments for o in outcomes]
    assert counted == sorted(counted) and counted[-1] > counted[0], "traffic flowed through every fault"
