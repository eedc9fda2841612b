"""How `make smoke` reads the scrapes it took: a lone scrape that timed out under load is not an outage, two in a
row are; the last scrape before the kill may miss, the last of the run may not; the outage is the longest run down."""

from __future__ import annotations

import pytest

from devtools.smoke_metrics import longest_down, up_but_for_lone_misses

UP, MISS = True, False


@pytest.mark.parametrize(
    ("states", "last_must_be_up", "up"),
    [
        ([UP, UP, UP], True, True),
        ([UP, MISS, UP], True, True),  # one scrape timed out
        ([UP, MISS, MISS, UP], True, False),  # down for two scrapes: an outage
        ([UP, UP, MISS], True, False),  # down at the end of the run
        ([UP, UP, MISS], False, True),  # the last scrape before the kill timed out as the kill began
        ([UP, MISS, MISS], False, False),
        ([MISS], False, False),
        ([], False, False),
    ],
)
def test_up_but_for_lone_misses(states, last_must_be_up, up):
    assert up_but_for_lone_misses(states, last_must_be_up=last_must_be_up) is up


def test_the_outage_is_the_longest_run_down():
    assert longest_down([1, 0, 1, 1, 0, 0, 0, 1, 0]) == (4, 6)
    assert longest_down([1, 1]) == (0, -1)
