"""TrafficShifter against moto's Route 53: reading, setting, retries and refusals."""

from __future__ import annotations

import math
from typing import Any

import pytest

from migration.errors import (
    ChangeNotInSyncError,
    InvalidWeightsError,
    MigrationError,
    PartialShiftError,
    RetryBudgetExhaustedError,
    UnknownApplicationError,
)
from migration.traffic import ROLLED_BACK, Split, normalise_name
from tests.runtime.conftest import ZONE_NAME, Aws, add_plain_and_half_records


def test_split_helpers_and_validation() -> None:
    assert Split.percent_on_aws(30) == Split(aws=30, on_premises=70)
    assert Split(aws=0, on_premises=100) == ROLLED_BACK
    assert Split(10, 90).reaches_aws
    assert not Split(0, 100).reaches_aws
    # Route 53 treats all-zero weights as equal weights: traffic still reaches AWS.
    assert Split(0, 0).reaches_aws
    Split(0, 255).validate("orders")
    for bad in (Split(0, 0), Split(-1, 100), Split(256, 0), Split(True, 1)):
        with pytest.raises(InvalidWeightsError, match="orders"):
            bad.validate("orders")


def test_normalise_name_decodes_route53_escapes() -> None:
    assert normalise_name("Orders.Migration.Internal") == "orders.migration.internal."
    assert normalise_name("\\052.migration.internal.") == "*.migration.internal."


def test_read_all_one_and_many(aws: Aws) -> None:
    aws.seed({"orders": (10, 90), "billing": (0, 100), "search": (100, 0)})
    shifter = aws.shifter()
    assert shifter.splits() == {
        "billing": Split(0, 100),
        "orders": Split(10, 90),
        "search": Split(100, 0),
    }
    assert shifter.splits(["orders"]) == {"orders": Split(10, 90)}
    records = shifter.read(["search", "billing"])
    assert set(records) == {"search", "billing"}
    assert records["search"].aws.set_identifier == "aws"
    assert records["search"].on_premises.values == ("10.0.0.3",)
    assert records["search"].aws.ttl == 60


def test_read_ignores_records_that_are_not_a_weighted_pair(aws: Aws) -> None:
    aws.seed({"orders": (50, 50)})
    add_plain_and_half_records(aws)
    shifter = aws.shifter()
    assert set(shifter.splits()) == {"orders"}
    with pytest.raises(UnknownApplicationError) as caught:
        shifter.read(["half", "plain"])
    assert caught.value.applications == ("half", "plain")
    assert "half has only the 'on-premises' record (weight 100)" in str(caught.value)
    # survey() reports what read() drops or refuses, without raising.
    everything = shifter.survey()
    assert set(everything.found) == {"orders"}
    assert everything.incomplete == {"half": "only the 'on-premises' record (weight 100)"}
    named = shifter.survey(["orders", "half", "plain", "ghost"])
    assert set(named.found) == {"orders"}
    assert set(named.incomplete) == {"half"} and named.unknown == ("plain", "ghost")


def test_listing_follows_pagination_and_drops_overlaps(aws: Aws) -> None:
    apps = {f"app{i:03d}": (i % 101, 100 - i % 101) for i in range(41)}
    aws.seed(apps)
    # A page size of 7 makes page boundaries split weighted pairs; moto then restarts
    # the next page at the pair's first record (it ignores StartRecordIdentifier).
    shifter = aws.shifter(page_size=7)
    splits = shifter.splits()
    assert aws.route53_calls.attempts["ListResourceRecordSets"] >= math.ceil((2 * 41 + 2) / 7)
    assert splits == {app: Split(aws_w, onprem) for app, (aws_w, onprem) in apps.items()}
    records = shifter.list_record_sets()
    keys = [(r["Name"], r["Type"], r.get("SetIdentifier")) for r in records]
    assert len(keys) == len(set(keys)) == 2 * 41 + 2  # + SOA and NS


def test_pagination_that_never_advances_is_an_error(aws: Aws) -> None:
    aws.seed({"orders": (50, 50)})
    with pytest.raises(MigrationError, match="does not advance"):
        aws.shifter(page_size=1).read()


def test_explicit_mapping_for_names_off_convention(aws: Aws) -> None:
    aws.seed({"legacy-erp-01": (20, 80), "orders": (0, 100)})
    shifter = aws.shifter(application_records={"erp": f"legacy-erp-01.{ZONE_NAME}."})
    assert shifter.fqdn_for("erp") == "legacy-erp-01.migration.internal."
    assert shifter.splits(["erp"]) == {"erp": Split(20, 80)}
    assert set(shifter.splits()) == {"erp", "orders"}
    result = shifter.set_split({"erp": ROLLED_BACK})
    assert result.change_id_by_application.keys() == {"erp"}
    assert aws.weights()["legacy-erp-01"] == {"aws": 0, "on-premises": 100}


def test_cname_pairs_are_supported(aws: Aws) -> None:
    aws.seed({"portal": (30, 70)}, record_type="CNAME")
    shifter = aws.shifter()
    assert shifter.splits() == {"portal": Split(30, 70)}
    shifter.set_split({"portal": Split.percent_on_aws(100)})
    assert aws.weights()["portal"] == {"aws": 100, "on-premises": 0}
    record = shifter.read(["portal"])["portal"].aws
    assert record.type == "CNAME"
    assert record.values == ("portal.aws.example.com",)


def test_set_split_rewrites_full_records_caps_ttl_and_skips_unchanged(aws: Aws) -> None:
    aws.seed({"orders": (10, 90), "billing": (50, 50), "search": (0, 100)}, ttl=300)
    shifter = aws.shifter()
    result = shifter.set_split(
        {"orders": Split(50, 50), "billing": Split(50, 50), "search": Split(25, 75)}
    )
    assert result.unchanged == ("billing",)
    assert len(result.change_ids) == 1
    assert aws.route53_calls.attempts["ChangeResourceRecordSets"] == 1
    (params,) = aws.route53_calls.api_params("ChangeResourceRecordSets")
    changes = params["ChangeBatch"]["Changes"]
    assert [c["Action"] for c in changes] == ["UPSERT"] * 4
    orders_aws = next(
        c["ResourceRecordSet"]
        for c in changes
        if c["ResourceRecordSet"]["Name"].startswith("orders")
        and c["ResourceRecordSet"]["SetIdentifier"] == "aws"
    )
    assert orders_aws == {
        "Name": "orders.migration.internal.",
        "Type": "A",
        "SetIdentifier": "aws",
        "Weight": 50,
        "TTL": 60,
        "ResourceRecords": [{"Value": "10.1.0.2"}],
    }
    after = aws.shifter().read()
    assert after["orders"].split == Split(50, 50)
    assert after["search"].split == Split(25, 75)
    # Rewritten records got the cutover TTL; the untouched one kept its TTL.
    assert after["orders"].aws.ttl == 60 and after["orders"].on_premises.ttl == 60
    assert after["billing"].aws.ttl == 300
    assert after["orders"].on_premises.values == ("10.0.0.2",)


def test_invalid_weights_are_refused_before_any_call(aws: Aws) -> None:
    aws.seed({"orders": (10, 90)})
    shifter = aws.shifter()
    for bad in (Split(0, 0), Split(300, 0), Split(-5, 105)):
        with pytest.raises(InvalidWeightsError, match="orders"):
            shifter.set_split({"orders": bad})
    assert sum(aws.route53_calls.attempts.values()) == 0


def test_unknown_application_is_refused_before_any_change(aws: Aws) -> None:
    aws.seed({"orders": (10, 90)})
    before = aws.weights()
    with pytest.raises(UnknownApplicationError, match="inventory") as caught:
        aws.shifter().set_split({"orders": ROLLED_BACK, "inventory": ROLLED_BACK})
    assert caught.value.applications == ("inventory",)
    assert aws.route53_calls.attempts["ChangeResourceRecordSets"] == 0
    assert aws.weights() == before


def test_many_applications_use_the_fewest_requests(aws: Aws) -> None:
    apps = {f"svc{i:03d}": (0, 100) for i in range(520)}
    aws.seed(apps)
    result = aws.shifter().set_split({app: Split(10, 90) for app in apps})
    # 520 apps x 2 records x 1 value x 2 (UPSERT) = 2,080 elements -> 3 requests.
    assert aws.route53_calls.attempts["ChangeResourceRecordSets"] == 3 == len(result.batches)
    assert [len(b.applications) for b in result.batches] == [250, 250, 20]
    weights = aws.weights()
    assert len(weights) == 520
    assert all(w == {"aws": 10, "on-premises": 90} for w in weights.values())


@pytest.mark.parametrize("code", ["Throttling", "PriorRequestNotComplete", "ThrottlingException"])
def test_retryable_errors_are_retried_with_full_jitter_backoff(aws: Aws, code: str) -> None:
    aws.seed({"orders": (10, 90)})
    aws.route53_faults.fail("ChangeResourceRecordSets", [code, code, code])
    shifter = aws.shifter(base_delay_s=0.1, max_delay_s=5.0)
    shifter.set_split({"orders": ROLLED_BACK})
    assert aws.route53_faults.injected["ChangeResourceRecordSets"] == 3
    assert aws.route53_calls.attempts["ChangeResourceRecordSets"] == 4
    # random() = 0.5: delays are half of 0.1, 0.2, 0.4.
    assert aws.time.sleeps == pytest.approx([0.05, 0.1, 0.2])
    assert aws.weights()["orders"] == {"aws": 0, "on-premises": 100}


def test_backoff_ceiling_is_capped(aws: Aws) -> None:
    aws.seed({"orders": (10, 90)})
    aws.route53_faults.fail("ChangeResourceRecordSets", ["Throttling"] * 8)
    aws.time.random_value = 1.0
    aws.shifter(base_delay_s=1.0, max_delay_s=4.0, time_budget_s=1000).set_split(
        {"orders": ROLLED_BACK}
    )
    assert aws.time.sleeps == [1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0]


def test_exhausted_time_budget_gives_a_clear_error(aws: Aws) -> None:
    aws.seed({"orders": (10, 90)})
    aws.route53_faults.fail("ChangeResourceRecordSets", lambda _n: "Throttling")
    aws.time.random_value = 1.0
    shifter = aws.shifter(time_budget_s=10, base_delay_s=1.0, max_delay_s=4.0)
    with pytest.raises(PartialShiftError) as caught:
        shifter.set_split({"orders": ROLLED_BACK})
    cause = caught.value.__cause__
    assert isinstance(cause, RetryBudgetExhaustedError)
    assert cause.operation == "ChangeResourceRecordSets" and cause.last_code == "Throttling"
    assert "10 s time budget" in str(cause)
    assert caught.value.failed == ("orders",) and caught.value.applied == {}
    # 1 + 2 + 4 = 7 s slept; the next 4 s would pass the 10 s budget.
    assert sum(aws.time.sleeps) == 7.0
    assert aws.weights()["orders"] == {"aws": 10, "on-premises": 90}


def test_reads_are_retried_and_budget_bounded(aws: Aws) -> None:
    aws.seed({"orders": (10, 90)})
    aws.route53_faults.fail("ListResourceRecordSets", ["Throttling", "PriorRequestNotComplete"])
    assert aws.shifter().splits() == {"orders": Split(10, 90)}
    aws.route53_faults.fail("ListResourceRecordSets", lambda _n: "Throttling")
    with pytest.raises(RetryBudgetExhaustedError, match="ListResourceRecordSets"):
        aws.shifter(time_budget_s=3).splits()


def test_non_retryable_errors_are_not_retried(aws: Aws) -> None:
    aws.seed({"orders": (10, 90)})
    aws.route53_faults.fail("ChangeResourceRecordSets", ["InvalidChangeBatch"])
    with pytest.raises(PartialShiftError, match="InvalidChangeBatch"):
        aws.shifter().set_split({"orders": ROLLED_BACK})
    assert aws.route53_calls.attempts["ChangeResourceRecordSets"] == 1
    assert aws.time.sleeps == []


def test_stop_on_error_leaves_later_batches_unsent(aws: Aws) -> None:
    # Long CNAME values make the 32,000-character limit bind: 100 apps need 3 batches.
    apps = {f"app{i:03d}": (50, 50) for i in range(100)}
    aws.seed(apps, record_type="CNAME", long_values=True)
    aws.route53_faults.fail("ChangeResourceRecordSets", [None, "InvalidInput"])
    seen: list[Any] = []
    with pytest.raises(PartialShiftError) as caught:
        aws.shifter().set_split(
            {app: ROLLED_BACK for app in apps}, stop_on_error=True, on_batch_applied=seen.append
        )
    error = caught.value
    assert aws.route53_calls.attempts["ChangeResourceRecordSets"] == 2
    assert len(seen) == 1 and len(error.applied) == len(seen[0].applications)
    assert error.failed and error.not_attempted
    assert len(error.applied) + len(error.failed) + len(error.not_attempted) == 100
    weights = aws.weights()
    assert all(weights[app] == {"aws": 0, "on-premises": 100} for app in error.applied)
    assert all(weights[app] == {"aws": 50, "on-premises": 50} for app in error.failed)
    assert all(weights[app] == {"aws": 50, "on-premises": 50} for app in error.not_attempted)


def test_wait_for_insync_polls_get_change(aws: Aws) -> None:
    aws.seed({"orders": (10, 90)})
    shifter = aws.shifter(poll_interval_s=2.0)
    result = shifter.set_split({"orders": ROLLED_BACK}, wait=True)
    assert aws.route53_calls.attempts["GetChange"] == len(result.change_ids) == 1


class _PendingRoute53:
    """Route 53 stand-in whose changes stay PENDING for a number of polls."""

    def __init__(self, pending_polls: int) -> None:
        self.pending_polls = pending_polls
        self.polls = 0

    def get_change(self, Id: str) -> dict[str, Any]:
        self.polls += 1
        status = "PENDING" if self.polls <= self.pending_polls else "INSYNC"
        return {"ChangeInfo": {"Id": Id, "Status": status}}


def test_wait_for_insync_succeeds_after_pending_and_times_out(aws: Aws) -> None:
    fake = _PendingRoute53(pending_polls=3)
    shifter = aws.shifter(poll_interval_s=2.0)
    shifter._client = fake  # the shifter only calls get_change here
    shifter.wait_for_insync(["/change/A"])
    assert fake.polls == 4 and aws.time.sleeps == [2.0, 2.0, 2.0]
    slow = _PendingRoute53(pending_polls=1000)
    shifter._client = slow
    with pytest.raises(ChangeNotInSyncError, match="/change/B"):
        shifter.wait_for_insync(["/change/B"], budget_s=9)
    assert slow.polls == 5  # polls at t=0,2,4,6,8; t=10 is past the budget
