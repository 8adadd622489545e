"""Score calibration on the host: a monotonic map whose threshold keeps exactly what it should."""

import numpy as np
import pytest

from codenet.host.calibration import ScoreCalibration
from codenet.host.errors import CodenetError


def test_the_map_is_platt_scaling_and_monotonic():
    cal = ScoreCalibration(3.0, 0.8)
    raw = np.array([0.0, 1e-4, 0.1, 0.3, 0.5, 0.9, 0.999, 1.0], np.float32)
    z = np.log(raw[1:-1] / (1 - raw[1:-1]))
    assert cal(raw)[1:-1] == pytest.approx(1 / (1 + np.exp(-(3.0 * z + 0.8))), rel=1e-6)
    assert cal(raw)[0] == 0.0 and cal(raw)[-1] == 1.0 and cal(raw).dtype == np.float32
    assert (np.diff(cal(np.linspace(0, 1, 10001, dtype=np.float32))) >= 0).all()
    assert ScoreCalibration(1.0, 0.0)(raw[1:-1]) == pytest.approx(raw[1:-1], rel=1e-6)


@pytest.mark.parametrize("a, b", [(3.0, 0.8), (0.4, -1.5), (1.0, 0.0)])
def test_the_raw_threshold_keeps_every_detection_that_reaches_the_calibrated_one(a, b):
    cal = ScoreCalibration(a, b)
    raw = np.sort(np.random.default_rng(0).uniform(0, 1, 200_000).astype(np.float32))
    for threshold in (1e-4, 0.05, 0.3, 0.5, 0.77, 0.999):
        reaching = raw[cal(raw) >= np.float32(threshold)]
        if reaching.size:  # (a flat map never reaches 0.999)
            assert reaching.min() >= cal.raw_threshold(threshold)
            # and it is no looser than it must be: the margin is float32 rounding, not a wide band
            assert cal.raw_threshold(threshold) > reaching.min() - 1e-5
    assert cal.raw_threshold(0.0) == 0.0 and 0 < cal.raw_threshold(1.0) < 1


def test_filter_applies_the_calibrated_threshold_exactly():
    cal = ScoreCalibration(2.0, 0.5)
    raw = np.array([0.9, 0.4, 0.2, 0.1], np.float32)
    boxes, labels = np.arange(16, dtype=np.float32).reshape(4, 4), np.array([0, 1, 0, 1])
    b, s, lab = cal.filter(boxes, raw, labels, float(cal(raw)[1]))  # the 0.4 detection sits on the threshold
    assert np.array_equal(b, boxes[:2]) and np.array_equal(lab, labels[:2]) and np.array_equal(s, cal(raw)[:2])


@pytest.mark.parametrize("entry", [{"a": 0.0, "b": 0.0}, {"a": -2.0, "b": 1.0}, {"a": float("nan"), "b": 0.0},
                                   {"b": 1.0}, "platt", {"a": True, "b": 0.0}])
def test_bad_calibrations_are_one_clear_error(entry):
    with pytest.raises(CodenetError, match="calibration"):
        ScoreCalibration.from_dict(entry)
    assert ScoreCalibration.from_dict(None) is None
