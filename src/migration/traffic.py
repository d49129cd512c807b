"""Traffic shifting between on-premises and AWS with Route 53 weighted records.

Contract: each application has one DNS name in a private hosted zone holding a pair of
WEIGHTED records of the same name and type (A or CNAME), with SetIdentifier
``on-premises`` and ``aws``. "x % on AWS" means weights aws=x, on-premises=100-x;
rolled back means aws=0, on-premises=100.

This module only imports the standard library and botocore, because it ships to Lambda.
"""

from __future__ import annotations

import random as _random
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from botocore.config import Config
from botocore.exceptions import ClientError

from migration.errors import (
    ChangeNotInSyncError,
    InvalidRecordSetError,
    InvalidWeightsError,
    MigrationError,
    PartialShiftError,
    RetryBudgetExhaustedError,
    UnknownApplicationError,
)

ON_PREMISES_ID = "on-premises"
AWS_ID = "aws"
SUPPORTED_TYPES = frozenset({"A", "CNAME"})
APEX_APPLICATION = "@"

# Route 53 ChangeResourceRecordSets quotas (UPSERT counts twice for both).
MAX_RECORD_ELEMENTS = 1000
MAX_VALUE_CHARS = 32000
MAX_WEIGHT = 255
# Cutover records must take effect within a minute, so every rewrite caps the TTL here.
MAX_CUTOVER_TTL_S = 60

# Error codes that mean "try again later": Route 53's own plus the throttling codes that
# botocore's standard retry mode treats as throttling.
RETRYABLE_ERROR_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "RequestThrottled",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "PriorRequestNotComplete",
    }
)

T = TypeVar("T")

ROUTE53_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=5, read_timeout=30
)
"""The configuration of every Route 53 client given to a :class:`TrafficShifter`.

One retry layer: botocore makes one attempt per call, and the shifter's full-jitter backoff
decides every retry inside its time budget (a botocore retry loop inside each of its
attempts would multiply the attempts and see no budget)."""


@dataclass(frozen=True)
class Split:
    """Route 53 weights of one application: ``aws`` and ``on_premises``."""

    aws: int
    on_premises: int

    @classmethod
    def percent_on_aws(cls, percent: int) -> Split:
        """The split that sends ``percent`` % of traffic to AWS (weights sum to 100)."""
        return cls(aws=percent, on_premises=100 - percent)

    @property
    def reaches_aws(self) -> bool:
        """True when Route 53 can answer with the AWS address.

        Route 53 treats a set whose weights are all zero as equally weighted, so 0/0
        still sends half the traffic to AWS.
        """
        return self.aws > 0 or self.on_premises == 0

    def validate(self, application: str) -> None:
        """Raise InvalidWeightsError unless both weights are integers 0-255, not both zero."""
        for weight in (self.aws, self.on_premises):
            if isinstance(weight, bool) or not isinstance(weight, int):
                raise InvalidWeightsError(
                    application, self.aws, self.on_premises, "weights must be integers"
                )
            if not 0 <= weight <= MAX_WEIGHT:
                raise InvalidWeightsError(
                    application,
                    self.aws,
                    self.on_premises,
                    f"each weight must be between 0 and {MAX_WEIGHT}",
                )
        if self.aws == 0 and self.on_premises == 0:
            raise InvalidWeightsError(
                application,
                self.aws,
                self.on_premises,
                "both weights zero would let Route 53 answer with either address; "
                "use aws=0, on-premises=100 to roll back",
            )


ROLLED_BACK = Split(aws=0, on_premises=100)


@dataclass(frozen=True)
class WeightedRecord:
    """One weighted resource record set as stored in Route 53."""

    name: str
    type: str
    set_identifier: str
    weight: int
    ttl: int
    values: tuple[str, ...]
    health_check_id: str | None = None

    def to_route53(self) -> dict[str, Any]:
        """The ResourceRecordSet structure of a ChangeResourceRecordSets request."""
        record: dict[str, Any] = {
            "Name": self.name,
            "Type": self.type,
            "SetIdentifier": self.set_identifier,
            "Weight": self.weight,
            "TTL": self.ttl,
            "ResourceRecords": [{"Value": value} for value in self.values],
        }
        if self.health_check_id:
            record["HealthCheckId"] = self.health_check_id
        return record


@dataclass(frozen=True)
class ApplicationRecords:
    """The weighted pair of one application and the split it currently encodes."""

    application: str
    on_premises: WeightedRecord
    aws: WeightedRecord

    @property
    def split(self) -> Split:
        """Current weights."""
        return Split(aws=self.aws.weight, on_premises=self.on_premises.weight)


@dataclass(frozen=True)
class ChangePair:
    """The two UPSERTs that move one application to a new split.

    The pair is the unit of batching: both records always travel in the same atomic
    request so an application never serves a half-written split.
    """

    application: str
    on_premises: WeightedRecord
    aws: WeightedRecord

    @property
    def record_elements(self) -> int:
        """ResourceRecord elements counted against the 1,000 quota (UPSERT counts twice)."""
        return 2 * (len(self.on_premises.values) + len(self.aws.values))

    @property
    def value_chars(self) -> int:
        """Value characters counted against the 32,000 quota (UPSERT counts twice)."""
        return 2 * sum(len(v) for v in self.on_premises.values + self.aws.values)

    previous: ApplicationRecords | None = None
    """The records as read; when set, the pair is written conditionally (see changes)."""

    def changes(self) -> list[dict[str, Any]]:
        """The Changes entries of a ChangeResourceRecordSets request.

        Unconditional pairs are two UPSERTs. Conditional pairs (``previous`` set) DELETE
        the exact records read and CREATE the new ones: Route 53 refuses the whole batch
        (InvalidChangeBatch) if anything changed those records since they were read. Both
        forms count the same against the quotas (a DELETE or CREATE once per value, an
        UPSERT twice).
        """
        if self.previous is None:
            return [
                {"Action": "UPSERT", "ResourceRecordSet": self.on_premises.to_route53()},
                {"Action": "UPSERT", "ResourceRecordSet": self.aws.to_route53()},
            ]
        return [
            {"Action": "DELETE", "ResourceRecordSet": self.previous.on_premises.to_route53()},
            {"Action": "DELETE", "ResourceRecordSet": self.previous.aws.to_route53()},
            {"Action": "CREATE", "ResourceRecordSet": self.on_premises.to_route53()},
            {"Action": "CREATE", "ResourceRecordSet": self.aws.to_route53()},
        ]


@dataclass(frozen=True)
class PairChange:
    """Registration of one application's pair: delete the exact pair read, create a new one,
    or both (new addresses, same weights). A DELETE or CREATE counts once per value."""

    application: str
    delete: ApplicationRecords | None = None
    create: ApplicationRecords | None = None

    def _records(self) -> list[tuple[str, WeightedRecord]]:
        result = []
        for action, pair in (("DELETE", self.delete), ("CREATE", self.create)):
            if pair is not None:
                result += [(action, pair.on_premises), (action, pair.aws)]
        return result

    @property
    def record_elements(self) -> int:
        return sum(len(record.values) for _, record in self._records())

    @property
    def value_chars(self) -> int:
        return sum(len(v) for _, record in self._records() for v in record.values)

    def changes(self) -> list[dict[str, Any]]:
        return [
            {"Action": action, "ResourceRecordSet": record.to_route53()}
            for action, record in self._records()
        ]


def new_pair(
    application: str, name: str, record_type: str, on_premises: str, aws: str
) -> ApplicationRecords:
    """A pair as registration creates it: 100% on-premises, TTL 60 s."""

    def record(identifier: str, weight: int, value: str) -> WeightedRecord:
        return WeightedRecord(
            name=normalise_name(name),
            type=record_type,
            set_identifier=identifier,
            weight=weight,
            ttl=MAX_CUTOVER_TTL_S,
            values=(value,),
        )

    return ApplicationRecords(
        application, record(ON_PREMISES_ID, 100, on_premises), record(AWS_ID, 0, aws)
    )


def change_pair(records: ApplicationRecords, split: Split, *, exact: bool = False) -> ChangePair:
    """Build the pair that rewrites ``records`` with ``split`` (TTL capped at 60 s).

    ``exact=True`` makes it conditional on ``records`` being current (DELETE + CREATE).
    """
    ttl_on_prem = min(records.on_premises.ttl, MAX_CUTOVER_TTL_S)
    ttl_aws = min(records.aws.ttl, MAX_CUTOVER_TTL_S)
    return ChangePair(
        application=records.application,
        on_premises=replace(records.on_premises, weight=split.on_premises, ttl=ttl_on_prem),
        aws=replace(records.aws, weight=split.aws, ttl=ttl_aws),
        previous=records if exact else None,
    )


class RateLimiter:
    """At most ``rate`` calls per second, spaced evenly (a token bucket of size one).

    Route 53 allows five ChangeResourceRecordSets requests per second per account; the
    cutover controller paces its own requests with this so it never exceeds the quota
    and leaves the retries of a concurrent rollback room. ``monotonic`` and ``sleep`` are
    injected (tests and benchmarks run on a fake clock).
    """

    def __init__(
        self,
        rate: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self._interval = 1.0 / rate
        self._monotonic = monotonic
        self._sleep = sleep
        self._next: float | None = None
        self.calls: list[float] = []
        """Monotonic time of every call let through (for benchmarks and tests)."""

    def __call__(self) -> None:
        now = self._monotonic()
        if self._next is not None and now < self._next:
            self._sleep(self._next - now)
            now = self._monotonic()
        self._next = max(now, self._next or now) + self._interval
        self.calls.append(now)

    def highest_rate(self) -> int:
        """The most calls seen in any one-second window."""
        best, start = 0, 0
        for end, moment in enumerate(self.calls):
            while moment - self.calls[start] >= 1.0:
                start += 1
            best = max(best, end - start + 1)
        return best


def plan_batches(
    pairs: Sequence[ChangePair | PairChange],
    *,
    max_elements: int = MAX_RECORD_ELEMENTS,
    max_value_chars: int = MAX_VALUE_CHARS,
) -> list[tuple[ChangePair | PairChange, ...]]:
    """Pack change pairs into as few valid ChangeResourceRecordSets requests as practical.

    Pure function. First-fit in input order: each pair goes into the first batch with room
    in both dimensions (record elements and value characters), else opens a new batch. As
    a consequence no two returned batches could be merged into one valid request. Raises
    InvalidRecordSetError, before anything is sent, for a pair that cannot fit on its own.
    """
    batches: list[list[ChangePair | PairChange]] = []
    loads: list[tuple[int, int]] = []
    for pair in pairs:
        elements, chars = pair.record_elements, pair.value_chars
        if elements > max_elements or chars > max_value_chars:
            raise InvalidRecordSetError(
                f"application {pair.application}: its record pair needs {elements} record "
                f"elements and {chars} value characters as UPSERTs, above the per-request "
                f"limits ({max_elements}, {max_value_chars}); reduce the number of values"
            )
        for index, (used_elements, used_chars) in enumerate(loads):
            if used_elements + elements <= max_elements and used_chars + chars <= max_value_chars:
                batches[index].append(pair)
                loads[index] = (used_elements + elements, used_chars + chars)
                break
        else:
            batches.append([pair])
            loads.append((elements, chars))
    return [tuple(batch) for batch in batches]


@dataclass(frozen=True)
class AppliedBatch:
    """One accepted ChangeResourceRecordSets request."""

    change_id: str
    applications: tuple[str, ...]


@dataclass(frozen=True)
class ZoneSurvey:
    """What :meth:`TrafficShifter.survey` found for the requested names.

    ``found``: application -> its weighted pair; ``incomplete``: application -> what it
    holds instead of a pair (e.g. ``only the 'aws' record (weight 100)``); ``unknown``:
    requested names without any weighted record.
    """

    found: dict[str, ApplicationRecords]
    incomplete: dict[str, str]
    unknown: tuple[str, ...]


@dataclass(frozen=True)
class ShiftResult:
    """Outcome of :meth:`TrafficShifter.set_split`."""

    batches: tuple[AppliedBatch, ...]
    unchanged: tuple[str, ...]

    @property
    def change_ids(self) -> tuple[str, ...]:
        """Route 53 change ids, one per request."""
        return tuple(batch.change_id for batch in self.batches)

    @property
    def change_id_by_application(self) -> dict[str, str]:
        """Application -> id of the change that rewrote it."""
        return {app: b.change_id for b in self.batches for app in b.applications}


@dataclass(frozen=True)
class ExactMoveResult:
    """Outcome of :meth:`TrafficShifter.move_exact`."""

    batches: tuple[AppliedBatch, ...]
    conflicts: tuple[str, ...]
    """Applications whose records had changed since they were read: not moved."""

    @property
    def moved(self) -> tuple[str, ...]:
        return tuple(app for batch in self.batches for app in batch.applications)


def error_code(exc: ClientError) -> str:
    """The AWS error code of a ClientError ('' when absent)."""
    return str(exc.response.get("Error", {}).get("Code", ""))


_OCTAL_ESCAPE = re.compile(r"\\(\d{3})")


def _route53_order(fqdn: str) -> str:
    """The key Route 53 lists names by: the labels reversed (``internal.migration.orders``)."""
    return ".".join(reversed(fqdn.rstrip(".").split(".")))


def normalise_name(name: str) -> str:
    """Lowercase, trailing-dot form of a DNS name, with Route 53 octal escapes decoded."""
    decoded = _OCTAL_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), name.strip())
    decoded = decoded.lower()
    return decoded if decoded.endswith(".") else decoded + "."


class TrafficShifter:
    """Reads and sets the on-premises/AWS split of applications in one hosted zone.

    ``sleep``, ``monotonic`` and ``random`` are injected so tests run instantly. Retryable
    Route 53 errors (Throttling, PriorRequestNotComplete, ...) are retried with full-jitter
    exponential backoff until ``time_budget_s`` runs out. ``application_records`` maps
    application names that do not follow the ``<app>.<zone>`` convention to their FQDN.
    """

    def __init__(
        self,
        route53_client: Any,
        hosted_zone_id: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        random: Callable[[], float] = _random.random,
        time_budget_s: float = 60.0,
        application_records: Mapping[str, str] | None = None,
        page_size: int = 300,
        base_delay_s: float = 0.1,
        max_delay_s: float = 5.0,
        poll_interval_s: float = 2.0,
        max_attempts: int = 100,
        before_change: Callable[[], None] | None = None,
    ) -> None:
        self._client = route53_client
        self._zone_id = hosted_zone_id
        self._sleep = sleep
        self._monotonic = monotonic
        self._random = random
        self.time_budget_s = time_budget_s
        self._explicit = {
            app: normalise_name(fqdn) for app, fqdn in (application_records or {}).items()
        }
        self._explicit_reverse = {fqdn: app for app, fqdn in self._explicit.items()}
        self._page_size = page_size
        self._base_delay_s = base_delay_s
        self._max_delay_s = max_delay_s
        self._poll_interval_s = poll_interval_s
        self._max_attempts = max_attempts
        self._before_change = before_change
        self._zone_name: str | None = None

    # -- naming -----------------------------------------------------------------------

    @property
    def zone_name(self) -> str:
        """Normalised name of the hosted zone (fetched once)."""
        if self._zone_name is None:
            zone = self._call("GetHostedZone", self._client.get_hosted_zone, Id=self._zone_id)
            self._zone_name = normalise_name(zone["HostedZone"]["Name"])
        return self._zone_name

    def fqdn_for(self, application: str) -> str:
        """Record name of ``application``: the explicit mapping, else ``<app>.<zone>``."""
        if application in self._explicit:
            return self._explicit[application]
        if application == APEX_APPLICATION:
            return self.zone_name
        return normalise_name(f"{application}.{self.zone_name}")

    def _application_for(self, fqdn: str) -> str:
        if fqdn in self._explicit_reverse:
            return self._explicit_reverse[fqdn]
        if fqdn == self.zone_name:
            return APEX_APPLICATION
        suffix = "." + self.zone_name
        return fqdn[: -len(suffix)] if fqdn.endswith(suffix) else fqdn.rstrip(".")

    # -- reading ----------------------------------------------------------------------

    def survey(self, applications: Iterable[str] | None = None) -> ZoneSurvey:
        """Weighted pairs of ``applications`` (None = every name in the zone), and the rest.

        Never raises for a missing name: names holding only half a pair (or records of
        different types) are listed in ``incomplete`` with what they hold, requested names
        without any weighted record in ``unknown``. With None, ``incomplete`` lists every
        half pair of the zone.
        """
        pairs, halves = self._pairs(self.list_record_sets())
        if applications is None:
            return ZoneSurvey(
                found={self._application_for(fqdn): recs for fqdn, recs in sorted(pairs.items())},
                incomplete={
                    self._application_for(fqdn): text for fqdn, text in sorted(halves.items())
                },
                unknown=(),
            )
        return self._requested(pairs, halves, applications)

    def survey_names(self, applications: Iterable[str]) -> ZoneSurvey:
        """:meth:`survey` of some applications, reading their names instead of the zone.

        Each ListResourceRecordSets starts at a requested name not settled yet
        (``StartRecordName``, up to 300 records) and settles every requested name whose
        records it holds whole, so names that are neighbours in the zone share a request:
        at most one request per name, one for a run of neighbours, whatever the zone's size.
        """
        wanted = list(dict.fromkeys(applications))
        names = {self.fqdn_for(app) for app in wanted}
        settled: set[str] = set()
        records: list[dict[str, Any]] = []
        deadline = self._monotonic() + self.time_budget_s
        for start in sorted(names, key=_route53_order):
            if start not in settled:
                found = self._records_from(start, deadline)
                for name, record in found:
                    if name in names and name not in settled:
                        records.append(record)
                settled.update(name for name, _ in found)
                settled.add(start)
        pairs, halves = self._pairs(records)
        return self._requested(pairs, halves, wanted)

    def _records_from(self, start: str, deadline: float) -> list[tuple[str, dict[str, Any]]]:
        """(name, record) of the records listed from name ``start`` on, for the names held
        whole: one request, more only while ``start``'s own records go on past a page; the
        name a page ends in the middle of is left out."""
        found: list[tuple[str, dict[str, Any]]] = []
        for records, next_name in self._pages(start, deadline):
            found += [(normalise_name(record["Name"]), record) for record in records]
            if next_name != start:
                break
        return [(name, record) for name, record in found if name != next_name or name == start]

    def _requested(
        self,
        pairs: Mapping[str, ApplicationRecords],
        halves: Mapping[str, str],
        applications: Iterable[str],
    ) -> ZoneSurvey:
        """The survey of ``applications`` from the pairs and half pairs found (by FQDN)."""
        found: dict[str, ApplicationRecords] = {}
        incomplete: dict[str, str] = {}
        unknown: list[str] = []
        for app in dict.fromkeys(applications):
            fqdn = self.fqdn_for(app)
            if fqdn in pairs:
                found[app] = replace(pairs[fqdn], application=app)
            elif fqdn in halves:
                incomplete[app] = halves[fqdn]
            else:
                unknown.append(app)
        return ZoneSurvey(found=found, incomplete=incomplete, unknown=tuple(unknown))

    def read(self, applications: Iterable[str] | None = None) -> dict[str, ApplicationRecords]:
        """Weighted pairs of ``applications`` (None = every application in the zone).

        Raises UnknownApplicationError naming every requested application without a pair.
        """
        names = None if applications is None else list(applications)
        survey = self.survey(names)
        if names is not None:
            self.require_pairs(survey, names)
        return survey.found

    def require_pairs(self, survey: ZoneSurvey, applications: Iterable[str]) -> None:
        """Raise UnknownApplicationError naming each of ``applications`` without a pair."""
        missing = [
            app
            for app in dict.fromkeys(applications)
            if app in survey.incomplete or app in survey.unknown
        ]
        if missing:
            partial = [f"{app} has {text}" for app, text in survey.incomplete.items()]
            raise UnknownApplicationError(missing, self.zone_name.rstrip("."), "; ".join(partial))

    def splits(self, applications: Iterable[str] | None = None) -> dict[str, Split]:
        """Current split of ``applications`` (None = all)."""
        return {app: recs.split for app, recs in self.read(applications).items()}

    def list_record_sets(self) -> list[dict[str, Any]]:
        """Every record set of the zone, following NextRecordName/Type/Identifier."""
        deadline = self._monotonic() + self.time_budget_s
        return [record for records, _ in self._pages(None, deadline) for record in records]

    def _pages(
        self, start_name: str | None, deadline: float
    ) -> Iterator[tuple[list[dict[str, Any]], str | None]]:
        """Pages of the zone's record sets from ``start_name`` (None: the first) on, each
        with the normalised name the next page starts at (None after the last page).

        Duplicates are dropped by (name, type, set identifier): an emulator that ignores
        StartRecordIdentifier restarts a page at the first record of a weighted name.
        """
        params: dict[str, Any] = {"HostedZoneId": self._zone_id, "MaxItems": str(self._page_size)}
        if start_name:
            params["StartRecordName"] = start_name
        seen: set[tuple[str, str, str | None]] = set()
        starts: set[tuple[str, str, str | None]] = set()
        # Hand loop, not the paginator: pages retry within one time budget; a stuck page stops.
        while True:
            page = self._call(
                "ListResourceRecordSets",
                self._client.list_resource_record_sets,
                deadline=deadline,
                **params,
            )
            records = []
            for record in page.get("ResourceRecordSets", []):
                key = (normalise_name(record["Name"]), record["Type"], record.get("SetIdentifier"))
                if key not in seen:
                    seen.add(key)
                    records.append(record)
            if not page.get("IsTruncated"):
                yield records, None
                return
            start = (
                page["NextRecordName"],
                page["NextRecordType"],
                page.get("NextRecordIdentifier"),
            )
            yield records, normalise_name(start[0])
            if start in starts:
                # Only an emulator without StartRecordIdentifier and a tiny page size can
                # do this; looping forever would hide it.
                raise MigrationError(
                    f"ListResourceRecordSets pagination of zone {self._zone_id} does not "
                    f"advance at {start[0]}; use a larger page size"
                )
            starts.add(start)
            params.update(StartRecordName=start[0], StartRecordType=start[1])
            if start[2]:
                params["StartRecordIdentifier"] = start[2]
            else:
                params.pop("StartRecordIdentifier", None)

    def _pairs(
        self, record_sets: Iterable[Mapping[str, Any]]
    ) -> tuple[dict[str, ApplicationRecords], dict[str, str]]:
        """Weighted pairs among ``record_sets`` keyed by FQDN, and names holding half a pair."""
        halves: dict[str, dict[str, WeightedRecord]] = {}
        for record in record_sets:
            identifier = record.get("SetIdentifier")
            if (
                record.get("Type") not in SUPPORTED_TYPES
                or identifier not in (ON_PREMISES_ID, AWS_ID)
                or "Weight" not in record
                or not record.get("ResourceRecords")
            ):
                continue
            weighted = WeightedRecord(
                name=record["Name"],
                type=record["Type"],
                set_identifier=identifier,
                weight=int(record["Weight"]),
                ttl=int(record.get("TTL", MAX_CUTOVER_TTL_S)),
                values=tuple(str(rr["Value"]) for rr in record["ResourceRecords"]),
                health_check_id=record.get("HealthCheckId"),
            )
            halves.setdefault(normalise_name(record["Name"]), {})[identifier] = weighted
        pairs: dict[str, ApplicationRecords] = {}
        incomplete: dict[str, str] = {}
        for fqdn, by_id in halves.items():
            on_prem, aws = by_id.get(ON_PREMISES_ID), by_id.get(AWS_ID)
            if on_prem and aws and on_prem.type == aws.type:
                pairs[fqdn] = ApplicationRecords(self._application_for(fqdn), on_prem, aws)
            elif on_prem and aws:
                incomplete[fqdn] = f"records of different types ({on_prem.type}, {aws.type})"
            else:
                (only,) = by_id.values()
                incomplete[fqdn] = f"only the '{only.set_identifier}' record (weight {only.weight})"
        return pairs, incomplete

    # -- writing ----------------------------------------------------------------------

    def set_split(
        self,
        splits: Mapping[str, Split],
        *,
        current: Mapping[str, ApplicationRecords] | None = None,
        wait: bool = False,
        stop_on_error: bool = True,
        comment: str | None = None,
        on_batch_applied: Callable[[AppliedBatch], None] | None = None,
    ) -> ShiftResult:
        """Set the split of many applications in as few atomic requests as Route 53 allows.

        Weights are validated and every application is resolved before any change is sent.
        Applications already at their target split are left alone (listed as unchanged).
        ``current`` may pass records the caller just read, to save a listing.
        ``stop_on_error=False`` keeps sending later batches after one fails (rollback wants
        as many applications safe as possible). Any failed batch raises PartialShiftError
        listing what was applied; ``on_batch_applied`` sees each batch as it is accepted.
        """
        for app, split in splits.items():
            split.validate(app)
        known = dict(current or {})
        missing = [app for app in splits if app not in known]
        if missing:
            known.update(self.read(missing))
        pairs = [
            change_pair(known[app], splits[app])
            for app in sorted(splits)
            if known[app].split != splits[app]
        ]
        unchanged = tuple(sorted(app for app in splits if known[app].split == splits[app]))
        batches = plan_batches(pairs)
        applied: list[AppliedBatch] = []
        failed: list[str] = []
        not_attempted: list[str] = []
        causes: list[str] = []
        last_exc: Exception | None = None
        deadline = self._monotonic() + self.time_budget_s
        for index, batch in enumerate(batches):
            apps = tuple(pair.application for pair in batch)
            if failed and stop_on_error:
                not_attempted.extend(apps)
                continue
            changes = [change for pair in batch for change in pair.changes()]
            change_batch: dict[str, Any] = {"Changes": changes}
            if comment:
                change_batch["Comment"] = comment[:256]
            try:
                response = self._call(
                    "ChangeResourceRecordSets",
                    self._paced_change,
                    deadline=deadline,
                    HostedZoneId=self._zone_id,
                    ChangeBatch=change_batch,
                )
            except (ClientError, RetryBudgetExhaustedError) as exc:
                failed.extend(apps)
                code = error_code(exc) if isinstance(exc, ClientError) else exc.last_code
                causes.append(f"batch {index + 1}/{len(batches)}: {code or type(exc).__name__}")
                last_exc = exc
                continue
            done = AppliedBatch(change_id=str(response["ChangeInfo"]["Id"]), applications=apps)
            applied.append(done)
            if on_batch_applied is not None:
                on_batch_applied(done)
        if failed:
            raise PartialShiftError(
                {app: b.change_id for b in applied for app in b.applications},
                tuple(failed),
                tuple(not_attempted),
                "; ".join(causes),
            ) from last_exc
        result = ShiftResult(batches=tuple(applied), unchanged=unchanged)
        if wait and result.change_ids:
            self.wait_for_insync(result.change_ids)
        return result

    def move_exact(
        self,
        moves: Mapping[str, Split],
        current: Mapping[str, ApplicationRecords],
        *,
        comment: str | None = None,
    ) -> ExactMoveResult:
        """Move each application from exactly ``current`` to its split, or not at all.

        Every pair is written as DELETE(records as read) + CREATE(new weights), and the
        pairs of applications moving at the same moment share requests (first-fit, within
        the quotas). Route 53 refuses a whole batch if any of its pairs changed since it was
        read (a rollback got there first): that batch is then sent again one application per
        request, so the others still move, and the refused applications are returned as
        ``conflicts`` with nothing changed for them. Other errors raise as usual.
        """
        for app, split in moves.items():
            split.validate(app)
        pairs = [
            change_pair(current[app], moves[app], exact=True)
            for app in sorted(moves)
            if current[app].split != moves[app]
        ]
        applied: list[AppliedBatch] = []
        conflicts: list[str] = []
        deadline = self._monotonic() + self.time_budget_s
        pending = plan_batches(pairs)
        while pending:
            batch = pending.pop(0)
            try:
                applied.append(self._send(batch, comment, deadline))
            except ClientError as exc:
                if error_code(exc) != "InvalidChangeBatch":
                    raise
                if len(batch) == 1:
                    conflicts.append(batch[0].application)
                else:
                    pending[:0] = [(pair,) for pair in batch]
        return ExactMoveResult(batches=tuple(applied), conflicts=tuple(sorted(conflicts)))

    def register_pairs(
        self, changes: Sequence[PairChange], *, comment: str | None = None
    ) -> tuple[AppliedBatch, ...]:
        """Create, replace or delete record pairs as registration decides, in as few requests
        as the quotas allow. Every DELETE names the exact records read, so Route 53 refuses a
        batch (InvalidChangeBatch, raised) if anything changed them since: nothing of that
        batch is applied, and a rerun of the registration reads again."""
        deadline = self._monotonic() + self.time_budget_s
        return tuple(self._send(batch, comment, deadline) for batch in plan_batches(changes))

    def pairs_by_name(
        self, records: Iterable[Mapping[str, Any]]
    ) -> tuple[dict[str, ApplicationRecords], dict[str, str]]:
        """The weighted pairs among ``records`` (a :meth:`list_record_sets` result) by
        normalised name, and the names holding half a pair (with what they hold)."""
        return self._pairs(records)

    def _send(
        self, batch: Sequence[ChangePair | PairChange], comment: str | None, deadline: float
    ) -> AppliedBatch:
        change_batch: dict[str, Any] = {
            "Changes": [change for pair in batch for change in pair.changes()]
        }
        if comment:
            change_batch["Comment"] = comment[:256]
        response = self._call(
            "ChangeResourceRecordSets",
            self._paced_change,
            deadline=deadline,
            HostedZoneId=self._zone_id,
            ChangeBatch=change_batch,
        )
        return AppliedBatch(
            change_id=str(response["ChangeInfo"]["Id"]),
            applications=tuple(pair.application for pair in batch),
        )

    def _paced_change(self, **kwargs: Any) -> Any:
        if self._before_change is not None:
            self._before_change()
        return self._client.change_resource_record_sets(**kwargs)

    def wait_for_insync(self, change_ids: Iterable[str], budget_s: float | None = None) -> None:
        """Poll GetChange until every change is INSYNC, or raise ChangeNotInSyncError."""
        budget = self.time_budget_s if budget_s is None else budget_s
        deadline = self._monotonic() + budget
        pending = list(dict.fromkeys(change_ids))
        # Hand loop, not the waiter: it honours the injected clock and budget and polls many ids.
        while True:
            pending = [
                change_id
                for change_id in pending
                if self._call(
                    "GetChange", self._client.get_change, deadline=deadline, Id=change_id
                )["ChangeInfo"]["Status"]
                != "INSYNC"
            ]
            if not pending:
                return
            if self._monotonic() + self._poll_interval_s > deadline:
                raise ChangeNotInSyncError(pending[0], budget)
            self._sleep(self._poll_interval_s)

    # -- retries ----------------------------------------------------------------------

    def _call(
        self,
        operation: str,
        function: Callable[..., T],
        *,
        deadline: float | None = None,
        **kwargs: Any,
    ) -> T:
        """Call ``function`` retrying retryable errors with full-jitter backoff.

        Every call gets at least one attempt even past the deadline, so a rollback keeps
        trying each batch once after an earlier batch used up the budget.
        """
        if deadline is None:
            deadline = self._monotonic() + self.time_budget_s
        attempt = 0
        while True:
            attempt += 1
            try:
                return function(**kwargs)
            except ClientError as exc:
                code = error_code(exc)
                if code not in RETRYABLE_ERROR_CODES:
                    raise
                ceiling = min(self._max_delay_s, self._base_delay_s * 2 ** (attempt - 1))
                delay = self._random() * ceiling
                if attempt >= self._max_attempts or self._monotonic() + delay > deadline:
                    raise RetryBudgetExhaustedError(
                        operation, attempt, self.time_budget_s, code
                    ) from exc
                self._sleep(delay)
