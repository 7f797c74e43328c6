"""PCA-reconstruction and Isolation-Forest baselines: shapes, the PCA residual against
sklearn, the numpy forest against sklearn's ``score_samples``, sensor attribution,
pickle-free persistence, determinism and input checks."""

import json
import zipfile

import numpy as np
import pytest
from sklearn.decomposition import PCA
from threadpoolctl import threadpool_limits

from components.checksums import CHECKSUM_FILE
from components.models.baselines import IsolationForestModel, PcaModel, average_path_length

WINDOW, SENSORS = 12, 5
MODELS = {"pca": PcaModel, "iforest": IsolationForestModel}
BASELINES = tuple(MODELS)


def load_baseline(kind: str, directory):
    return MODELS[kind].load(directory)


@pytest.fixture(autouse=True, scope="module")
def _single_threaded_blas():
    """The matrices here are tiny: a BLAS thread pool only adds overhead, and on a busy
    small machine its spinning threads made these tests ~100x slower."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def smooth_windows(n: int, seed: int = 0, window: int = WINDOW, sensors: int = SENSORS) -> np.ndarray:
    """Windows of a plant-like series: 3 slow latent drivers mixed into the sensors, plus noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n + window)[:, None]
    drivers = np.concatenate([np.sin(t / 7 + 1), np.sin(t / 13), np.cos(t / 29)], axis=1)
    series = drivers @ rng.standard_normal((3, sensors)) + 0.1 * rng.standard_normal((n + window, sensors))
    series = (series - series.mean(0)) / series.std(0)
    return series[np.arange(n)[:, None] + np.arange(window)].astype(np.float32)


def small_detector(kind: str):
    return PcaModel(variance=0.9) if kind == "pca" else IsolationForestModel(n_estimators=25, max_samples=128, fit_sample=1000)


@pytest.fixture(scope="module")
def train() -> np.ndarray:
    return smooth_windows(1500)


@pytest.fixture(scope="module")
def fitted(train) -> dict:
    return {kind: small_detector(kind).fit(train, seed=1) for kind in BASELINES}


@pytest.mark.parametrize("kind", BASELINES)
def test_shapes_and_dtypes(kind, fitted):
    windows = smooth_windows(37, seed=5)
    score, errors = fitted[kind].score_windows(windows)
    assert score.shape == (37,) and errors.shape == (37, SENSORS)
    assert score.dtype == np.float64 and errors.dtype == np.float64
    assert np.isfinite(score).all() and (errors >= 0).all()
    assert fitted[kind].eval() is fitted[kind]
    empty_score, empty_errors = fitted[kind].score_windows(windows[:0])
    assert empty_score.shape == (0,) and empty_errors.shape == (0, SENSORS)


def test_pca_residual_vanishes_on_the_subspace_and_not_off_it():
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.standard_normal((WINDOW * SENSORS, 3)))[0].T  # 3 orthonormal rows
    latent = rng.standard_normal((400, 3)) * np.array([3.0, 2.0, 1.5])
    windows = (latent @ basis + 0.5).reshape(400, WINDOW, SENSORS)
    detector = PcaModel(variance=0.99).fit(windows)
    assert detector.n_components_ == 3
    on_plane = (rng.standard_normal((20, 3)) @ basis + 0.5).reshape(20, WINDOW, SENSORS)
    assert detector.score_windows(on_plane)[0].max() < 1e-20
    away = rng.standard_normal(WINDOW * SENSORS)
    away -= basis.T @ (basis @ away)  # orthogonal to the subspace
    off_plane = on_plane[:1] + away.reshape(1, WINDOW, SENSORS)
    score, errors = detector.score_windows(off_plane)
    assert score[0] == pytest.approx(np.mean(away**2), rel=1e-9)
    np.testing.assert_allclose(errors[0], (away.reshape(WINDOW, SENSORS) ** 2).mean(axis=0), rtol=1e-9)


def test_pca_score_equals_sklearn_inverse_transform_residual(train, fitted):
    detector = fitted["pca"]
    flat = train.reshape(len(train), -1).astype(np.float64)
    reference = PCA(n_components=detector.n_components_, svd_solver="full").fit(flat)
    windows = smooth_windows(50, seed=9) + np.float32(0.3)
    x = windows.reshape(50, -1).astype(np.float64)
    residual = x - reference.inverse_transform(reference.transform(x))
    score, errors = detector.score_windows(windows)
    np.testing.assert_allclose(score, (residual**2).mean(axis=1), rtol=1e-7)
    np.testing.assert_allclose(errors, (residual**2).reshape(50, WINDOW, SENSORS).mean(axis=1), rtol=1e-7)


def test_pca_component_count_reaches_variance_within_caps(train):
    ratio = PCA(svd_solver="full").fit(train.reshape(len(train), -1).astype(np.float64)).explained_variance_ratio_
    cumulative = np.cumsum(ratio)
    for variance in (0.5, 0.8, 0.95):
        k = PcaModel(variance=variance).fit(train).n_components_
        assert cumulative[k - 1] >= variance - 1e-12 and (k == 1 or cumulative[k - 2] < variance)
    assert PcaModel(variance=0.95, max_components=2).fit(train).n_components_ == 2
    assert PcaModel(variance=1.0).fit(train).n_components_ == WINDOW * SENSORS - 1  # always a residual


@pytest.mark.parametrize("kind", BASELINES)
@pytest.mark.parametrize("sensor", [0, 3])
def test_errors_locate_an_offset_sensor(kind, sensor, fitted):
    windows = smooth_windows(40, seed=7)
    shifted = windows.copy()
    shifted[:, -3:, sensor] += 4.0  # the fault starts 3 rows before the scored row
    score, errors = fitted[kind].score_windows(shifted)
    assert (errors.argmax(axis=1) == sensor).all()
    clean = fitted[kind].score_windows(windows)[0]
    assert score.mean() > clean.mean()
    if kind == "pca":  # a per-window guarantee only for the reconstruction
        assert (score > clean).all()


def test_iforest_errors_are_the_last_rows_squared_deviation_from_the_training_mean(fitted, train):
    windows = smooth_windows(20, seed=15)
    expected = (windows[:, -1, :].astype(np.float64) - train.mean(axis=(0, 1), dtype=np.float64)) ** 2
    np.testing.assert_allclose(fitted["iforest"].score_windows(windows)[1], expected, rtol=1e-12, atol=1e-15)


def test_iforest_compares_float64_input_as_float32_like_sklearn(fitted):
    """A float64 value just across the root threshold from its float32 rounding must
    follow the float32 side, as in sklearn (which casts the input to float32)."""
    detector = fitted["iforest"]
    tree = detector.sklearn_model.estimators_[0].tree_
    feature, threshold = tree.feature[0], tree.threshold[0]
    rounded = np.float64(np.float32(threshold))
    value = threshold + 1e-12 if rounded <= threshold else threshold - 1e-12  # float64 and float32 sides differ
    windows = smooth_windows(1, seed=16).astype(np.float64)
    windows.reshape(1, -1)[0, feature] = value
    assert (np.float32(value) <= threshold) != (value <= threshold)
    expected = -detector.sklearn_model.score_samples(windows.reshape(1, -1))
    np.testing.assert_allclose(detector.score_windows(windows)[0], expected, rtol=0, atol=1e-12)


def test_iforest_scores_an_outlier_above_typical_windows(fitted):
    typical = smooth_windows(300, seed=3)
    outlier = typical[:1] + np.float32(4.0)  # every sensor 4 standard deviations off
    typical_score = fitted["iforest"].score_windows(typical)[0]
    outlier_score = fitted["iforest"].score_windows(outlier)[0][0]
    assert outlier_score > typical_score.max()
    assert 0 < typical_score.min() and outlier_score <= 1


@pytest.mark.parametrize("n_train, max_samples", [(1500, 128), (60, 256), (1, 256)])
def test_numpy_forest_matches_sklearn_score_samples(n_train, max_samples, tmp_path):
    train = smooth_windows(max(n_train, 2), seed=2)[:n_train]
    detector = IsolationForestModel(n_estimators=30, max_samples=max_samples, fit_sample=1000).fit(train, seed=4)
    assert detector.max_samples_ == min(max_samples, n_train, 1000)
    rng = np.random.default_rng(1)
    windows = np.concatenate([smooth_windows(200, seed=8), rng.normal(0, 3, (50, WINDOW, SENSORS)).astype(np.float32)])
    windows[:3] = train[:3]  # values exactly on training points hit thresholds' neighbourhoods
    expected = -detector.sklearn_model.score_samples(windows.reshape(len(windows), -1))
    np.testing.assert_allclose(detector.score_windows(windows)[0], expected, rtol=0, atol=1e-9)
    detector.save(tmp_path)
    np.testing.assert_allclose(IsolationForestModel.load(tmp_path).score_windows(windows)[0], expected, rtol=0, atol=1e-9)


def test_average_path_length_is_sklearns_c():
    from sklearn.ensemble._iforest import _average_path_length

    n = np.array([0, 1, 2, 3, 4, 10, 256, 4096])
    np.testing.assert_allclose(average_path_length(n), _average_path_length(n), rtol=1e-15)
    assert average_path_length(np.array(3))[()] == pytest.approx(2 * (np.log(2) + np.euler_gamma) - 4 / 3)


def test_iforest_fits_a_seeded_subsample(train):
    detector = IsolationForestModel(n_estimators=10, max_samples=64, fit_sample=200).fit(train, seed=3)
    assert detector.sklearn_model.max_samples_ == 64
    assert detector.sklearn_model._n_samples == 200  # trees drew from the 200-window subsample
    np.testing.assert_allclose(detector.sensor_mean_, train.mean(axis=(0, 1)), atol=1e-6)  # mean over all windows


@pytest.mark.parametrize("kind", BASELINES)
def test_save_load_roundtrip_is_exact_and_pickle_free(kind, fitted, tmp_path):
    fitted[kind].save(tmp_path)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == [f"{kind}.json", f"{kind}.npz"]
    meta = json.loads((tmp_path / f"{kind}.json").read_text())
    assert meta["kind"] == kind and meta["window"] == WINDOW and meta["n_sensors"] == SENSORS
    with np.load(tmp_path / f"{kind}.npz", allow_pickle=False) as npz:  # refuses object arrays
        assert all(npz[name].dtype != object for name in npz.files)
    with zipfile.ZipFile(tmp_path / f"{kind}.npz") as archive:
        assert all(name.endswith(".npy") for name in archive.namelist())
    loaded = load_baseline(kind, tmp_path)
    assert type(loaded) is type(fitted[kind]) and loaded.hparams() == fitted[kind].hparams()
    windows = np.concatenate([smooth_windows(64, seed=11), np.random.default_rng(0).normal(0, 2, (16, WINDOW, SENSORS))])
    for got, want in zip(loaded.score_windows(windows), fitted[kind].score_windows(windows)):
        np.testing.assert_array_equal(got, want)


def test_detectors_save_and_load_baselines_beside_the_spec(fitted, tmp_path):
    from components.detectors.registry import detector_class, load_detector
    from components.models.store import SPEC_FILE, ModelSpec

    for kind in BASELINES:
        spec = ModelSpec(kind, [f"s{i}" for i in range(SENSORS)], WINDOW, fitted[kind].hparams())
        detector_class(kind)(spec, fitted[kind]).save(tmp_path / kind)
        assert sorted(p.name for p in (tmp_path / kind).iterdir()) == sorted([SPEC_FILE, CHECKSUM_FILE, f"{kind}.json", f"{kind}.npz"])
        loaded = load_detector(tmp_path / kind)
        assert type(loaded) is detector_class(kind) and loaded.spec == spec
        windows = smooth_windows(10, seed=12)
        np.testing.assert_array_equal(loaded.model.score_windows(windows)[0], fitted[kind].score_windows(windows)[0])


@pytest.mark.parametrize("kind", BASELINES)
def test_deterministic_per_seed(kind, train):
    windows = smooth_windows(100, seed=13) * np.float32(1.5)
    a, b = (small_detector(kind).fit(train, seed=5).score_windows(windows)[0] for _ in range(2))
    np.testing.assert_array_equal(a, b)
    if kind == "iforest":
        assert not np.array_equal(a, small_detector(kind).fit(train, seed=6).score_windows(windows)[0])
        few = train[:500]  # below fit_sample: only the forest's random_state can differ
        c, d = (small_detector(kind).fit(few, seed=seed).score_windows(windows)[0] for seed in (5, 6))
        assert not np.array_equal(c, d)


@pytest.mark.parametrize("kind", BASELINES)
def test_clear_errors_on_bad_input(kind, fitted, train):
    detector = fitted[kind]
    with pytest.raises(ValueError, match="rank 2"):
        detector.score_windows(train[:, 0, :])
    with pytest.raises(ValueError, match="sensor count mismatch.*5 sensors.*4 sensors"):
        detector.score_windows(train[:4, :, :4])
    with pytest.raises(ValueError, match="window length mismatch"):
        detector.score_windows(train[:4, :6, :])
    with pytest.raises(ValueError, match="rank 4"):
        small_detector(kind).fit(train[None])
    with pytest.raises(ValueError, match="NaN"):
        small_detector(kind).fit(np.where(np.arange(WINDOW)[:, None] == 3, np.nan, train))
    with pytest.raises(RuntimeError, match="not fitted"):
        small_detector(kind).score_windows(train)


def test_iforest_gives_nan_for_a_window_with_missing_values(fitted):
    windows = smooth_windows(3, seed=14)
    windows[1, 4, 2] = np.nan
    score, errors = fitted["iforest"].score_windows(windows)
    assert np.isnan(score[1]) and np.isnan(errors[1]).all() and np.isfinite(score[[0, 2]]).all()


def test_settings_and_loading_reject_unknown_kinds_and_parameters(tmp_path):
    from pydantic import ValidationError

    from components.detectors.iforest import IsolationForestDetector, IsolationForestSettings
    from components.detectors.pca import PcaDetector, PcaSettings
    from components.detectors.registry import detector_class, load_detector

    assert PcaDetector.model_params(PcaSettings(variance=0.9)) == {"variance": 0.9}
    assert isinstance(PcaModel(**PcaDetector.model_params(PcaSettings(variance=0.9))), PcaModel)
    assert IsolationForestModel(**IsolationForestDetector.model_params(IsolationForestSettings(n_estimators=7))).n_estimators == 7
    with pytest.raises(ValueError, match="unknown model 'lof'"):
        detector_class("lof")
    with pytest.raises(ValidationError, match="n_estimators"):
        PcaSettings(n_estimators=3)
    with pytest.raises(ValidationError, match="variance"):
        PcaSettings(variance=1.5)
    with pytest.raises(ValueError, match="variance"):
        PcaModel(variance=1.5)
    with pytest.raises(FileNotFoundError, match="no saved iforest"):
        load_baseline("iforest", tmp_path)
    with pytest.raises(FileNotFoundError, match="holds no saved model"):
        load_detector(tmp_path)
