import gc
from collections.abc import Iterator

import pytest

from service.collector import CollectorThresholds, settle_after_start
from service.config import ConfigError, Settings


@pytest.fixture
def restored_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_thresholds_parse_three_positive_whole_numbers() -> None:
    assert CollectorThresholds.parse("5000,20,10") == CollectorThresholds(5000, 20, 10)
    assert str(CollectorThresholds(700, 10, 10)) == "700,10,10"


@pytest.mark.parametrize("value", ["5000,20", "5000,20,10,1", "a,b,c", "5000,0,10", "-1,10,10", ""])
def test_malformed_thresholds_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match=r"threshold|three whole numbers"):
        CollectorThresholds.parse(value)


def test_the_setting_names_the_variable_when_invalid() -> None:
    with pytest.raises(ConfigError, match="BACKHAUL_GC_THRESHOLDS"):
        Settings.load({"BACKHAUL_GC_THRESHOLDS": "5000,20"})
    assert Settings.load({"BACKHAUL_GC_THRESHOLDS": "800,11,12"}).gc_thresholds == CollectorThresholds(
        800, 11, 12
    )


@pytest.mark.usefixtures("restored_collector")
def test_settling_freezes_what_exists_and_applies_the_thresholds() -> None:
    built_at_start = [[object()] for _ in range(100)]  # tracked containers, alive when the server settles
    settle_after_start(CollectorThresholds(4000, 15, 9))
    assert gc.get_threshold() == (4000, 15, 9)
    assert gc.get_freeze_count() >= len(built_at_start)
    tracked = {id(item) for item in gc.get_objects()}
    assert not any(id(item) in tracked for item in built_at_start)  # no collection walks them any more
    made_later = [object()]
    assert id(made_later) in {id(item) for item in gc.get_objects()}
