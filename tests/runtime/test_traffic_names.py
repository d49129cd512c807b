"""TrafficShifter.survey_names: the pairs of a few names, read from those names only."""

from __future__ import annotations

import random

import pytest

from migration.traffic import Split
from tests.runtime.conftest import ZONE_NAME, Aws, add_plain_and_half_records


def _plain_and_half(aws: Aws) -> None:
    add_plain_and_half_records(aws)
    aws.route53_calls.reset()


def test_neighbours_share_one_request(aws: Aws) -> None:
    aws.seed({f"app{i:03d}": (i % 101, 100 - i % 101) for i in range(400)})
    shifter = aws.shifter()

    survey = shifter.survey_names([f"app{i:03d}" for i in range(100, 150)])

    assert survey.found.keys() == {f"app{i:03d}" for i in range(100, 150)}
    assert survey.found["app120"].split == Split(120 % 101, 100 - 120 % 101)
    assert survey.found["app120"].application == "app120"
    assert (survey.incomplete, survey.unknown) == ({}, ())
    # 50 names side by side: one request of 300 records, not the zone's 802 in 3 pages
    # (and GetHostedZone once, for the zone's name: no explicit mapping here).
    assert aws.route53_calls.attempts == {"ListResourceRecordSets": 1, "GetHostedZone": 1}
    (request,) = aws.route53_calls.api_params("ListResourceRecordSets")
    assert request["StartRecordName"] == f"app100.{ZONE_NAME}."


def test_scattered_names_cost_at_most_one_request_each(aws: Aws) -> None:
    aws.seed({f"app{i:03d}": (i % 101, 100 - i % 101) for i in range(400)})
    names = ["app007", "app399", "app150", "app151"]

    survey = aws.shifter(page_size=10).survey_names(names)

    assert {app: r.split for app, r in survey.found.items()} == {
        "app007": Split(7, 93),
        "app399": Split(399 % 101, 100 - 399 % 101),
        "app150": Split(49, 51),
        "app151": Split(50, 50),
    }
    # app150 and app151 are neighbours: 3 requests for 4 names.
    assert aws.route53_calls.attempts["ListResourceRecordSets"] == 3


def test_missing_half_and_plain_names_are_reported_like_survey(aws: Aws) -> None:
    aws.seed({"orders": (50, 50), "zeta": (0, 100)})
    _plain_and_half(aws)
    shifter = aws.shifter()
    names = ["orders", "half", "plain", "ghost", "zzz-after-everything", "zeta"]

    survey = shifter.survey_names(names)

    assert survey == shifter.survey(names)
    assert set(survey.found) == {"orders", "zeta"}
    assert survey.incomplete == {"half": "only the 'on-premises' record (weight 100)"}
    assert survey.unknown == ("plain", "ghost", "zzz-after-everything")


def test_records_cut_by_a_page_end_are_read_whole(aws: Aws) -> None:
    """With 3 records a page a pair straddles pages: the name at a page's end is not taken
    from that page, and a requested name's own records are followed to the next page."""
    aws.seed({f"app{i:02d}": (i, 100 - i) for i in range(12)})
    shifter = aws.shifter(page_size=3)
    names = [f"app{i:02d}" for i in range(12)]

    survey = shifter.survey_names(names)

    assert {app: r.split for app, r in survey.found.items()} == {
        f"app{i:02d}": Split(i, 100 - i) for i in range(12)
    }
    assert aws.route53_calls.attempts["ListResourceRecordSets"] <= 2 * len(names)


def test_names_off_the_convention_use_the_explicit_mapping(aws: Aws) -> None:
    aws.seed({"legacy-erp-01": (20, 80), "orders": (0, 100)})
    shifter = aws.shifter(application_records={"erp": f"legacy-erp-01.{ZONE_NAME}"})
    survey = shifter.survey_names(["erp"])
    assert {app: r.split for app, r in survey.found.items()} == {"erp": Split(20, 80)}
    assert "GetHostedZone" not in aws.route53_calls.attempts  # the mapping names the record


@pytest.mark.parametrize("seed", range(6))
def test_any_subset_and_page_size_read_as_the_whole_zone_does(aws: Aws, seed: int) -> None:
    rng = random.Random(seed)
    aws.seed({f"a{i:03d}": (rng.randrange(101), rng.randrange(1, 101)) for i in range(150)})
    _plain_and_half(aws)
    shifter = aws.shifter(page_size=rng.choice([4, 7, 25, 300]))
    every = [f"a{i:03d}" for i in range(150)] + ["half", "plain", "ghost"]
    names = rng.sample(every, rng.randrange(1, 40))

    assert shifter.survey_names(names) == shifter.survey(names)
