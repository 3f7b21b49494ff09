"""Throughput scaling curves: the fit recovers known curves, reports its error, and limits extrapolation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costplane.core.errors import InputError
from costplane.training import EXTRAPOLATION_FACTOR, fit_curve


def amdahl(n, a, b):
    return 1.0 / (a / np.asarray(n, dtype=float) + b)


@settings(max_examples=60, deadline=None)
@given(a=st.floats(1e-5, 1e-2), serial=st.floats(0.0, 0.3),
       counts=st.lists(st.sampled_from([1, 2, 4, 8, 16, 32, 64]), min_size=2, max_size=5, unique=True))
def test_fit_recovers_an_exact_amdahl_curve(a, serial, counts):
    b = serial * a  # serial fraction of the one-GPU time
    curve = fit_curve("H100", counts, amdahl(counts, a, b))
    lo, hi = curve.allowed_range
    unmeasured = np.arange(lo, hi + 1)
    np.testing.assert_allclose(curve.units_per_s(unmeasured), amdahl(unmeasured, a, b), rtol=1e-6)
    assert curve.fit_error < 1e-6


def test_two_points_pass_through_both_and_predict_between():
    # 8 -> 41 000, 16 -> 78 000 (the CONTRACTS.md example): tau = a/n + b through both points.
    curve = fit_curve("H100", [8, 16], [41000, 78000])
    np.testing.assert_allclose(curve.units_per_s([8, 16]), [41000, 78000], rtol=1e-9)
    a, b = curve.params
    assert a == pytest.approx(16 * (1 / 41000 - 1 / 78000), rel=1e-9)  # a (1/8 - 1/16) = 1/T8 - 1/T16
    assert b == pytest.approx(1 / 41000 - a / 8, rel=1e-9)
    assert 41000 < curve.units_per_s(12)[0] < 78000
    assert curve.loo_error is None  # needs three distinct counts
    assert curve.allowed_range == (8, int(16 * EXTRAPOLATION_FACTOR))


def test_leave_one_out_error_is_reported_for_noisy_points():
    counts = [1, 2, 4, 8]
    noisy = amdahl(counts, 1e-3, 5e-5) * np.array([1.03, 0.98, 1.02, 0.97])
    curve = fit_curve("A100", counts, noisy)
    assert 0.0 < curve.fit_error < 0.05
    assert curve.loo_error is not None and 0.0 < curve.loo_error < 0.1


def test_communication_term_is_chosen_when_it_explains_the_data():
    counts = np.array([1, 2, 4, 8, 16, 32])
    tau = 1e-3 / counts + 1e-5 + 2e-5 * np.log(counts)
    curve = fit_curve("H100", counts, 1 / tau)
    assert curve.form == "amdahl-comm"
    np.testing.assert_allclose(curve.params, [1e-3, 1e-5, 2e-5], rtol=1e-5)
    np.testing.assert_allclose(curve.units_per_s(48), 1 / (1e-3 / 48 + 1e-5 + 2e-5 * np.log(48)), rtol=1e-6)


def test_superlinear_points_clamp_the_serial_part_to_zero():
    curve = fit_curve("H100", [8, 16], [10000, 25000])  # more than 2x for 2x GPUs
    assert curve.params[1] == 0.0
    assert np.all(np.isfinite(curve.units_per_s([8, 32])))


@pytest.mark.parametrize("counts, values", [([8, 8], [1.0, 2.0]), ([8], [1.0]), ([8, 16], [1.0, -2.0])])
def test_unusable_points_raise_input_error(counts, values):
    with pytest.raises(InputError):
        fit_curve("H100", counts, values)
