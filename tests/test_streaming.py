"""The analysis streamed from Parquet: the same thresholds and figures as from the table in memory,
only the needed columns read, and a compact form whose size depends on cells, not columns
(analysis.read_sweep, analysis.fit_thresholds, analysis.make_figures)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from analysis import SweepData, fit_thresholds, make_figures, read_sweep
from sim import Params, sweep
from sweep_data import fake_results

SWEPT = ["planted_fraction", "situational_awareness"]
#: The columns the analysis streams from a sweep's table swept over planted_fraction.
NEEDED = {"planted_fraction", "situational_awareness", "replicate", "persona", "point", "real_cited_rate", "uplift",
          "emergence_document"}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """A small sweep written by the sweep engine: its folder and its table."""
    out = tmp_path_factory.mktemp("stream") / "sweep"
    table = sweep(Params(n_documents=1000), grid={"situational_awareness": "0.3:1:8", "planted_fraction": [0.15, 0.25]},
                  replicates=5, seed=0, out=out, progress=False)
    return out, table


def csv_text(table: pd.DataFrame) -> str:
    return table.to_csv(index=False)


# -- the same numbers -------------------------------------------------------------------


def test_parquet_file_gives_the_csv_of_the_dataframe(written):
    """thresholds.csv from results.parquet (streamed) is the text of thresholds.csv from the DataFrame."""
    out, table = written
    expected = csv_text(fit_thresholds(table, swept=SWEPT, n_boot=50, seed=2))
    assert csv_text(fit_thresholds(out / "results.parquet", swept=SWEPT, n_boot=50, seed=2)) == expected
    assert csv_text(fit_thresholds(str(out), swept=SWEPT, n_boot=50, seed=2)) == expected  # the sweep folder
    data = read_sweep(out / "results.parquet", swept=SWEPT)
    assert csv_text(fit_thresholds(data, n_boot=50, seed=2)) == expected
    assert csv_text(fit_thresholds(data, swept=SWEPT, n_boot=50, seed=2)) == expected
    assert data.n_rows == len(table) == 8 * 2 * 5
    assert [g.keys for g in data.groups] == [(0.15,), (0.25,)]


def test_batches_parts_and_datasets_give_the_same_numbers(written, tmp_path):
    """Batches that cut runs and groups apart, a folder of parts and a pyarrow dataset read alike."""
    import pyarrow.dataset as ds

    out, table = written
    expected = csv_text(fit_thresholds(table, swept=SWEPT, n_boot=30))
    assert csv_text(fit_thresholds(read_sweep(out / "results.parquet", SWEPT, batch_rows=7), n_boot=30)) == expected
    parts = tmp_path / "parts"
    parts.mkdir()
    for i, start in enumerate(range(0, len(table), 23)):  # parts as the sweep writes them, in name order
        table.iloc[start:start + 23].to_parquet(parts / f"chunk-{i:06d}.parquet", index=False)
    assert csv_text(fit_thresholds(parts, swept=SWEPT, n_boot=30)) == expected
    assert csv_text(fit_thresholds(tmp_path, swept=SWEPT, n_boot=30)) == expected  # a sweep folder still running
    files = sorted(parts.glob("*.parquet"))
    assert csv_text(fit_thresholds(files, swept=SWEPT, n_boot=30)) == expected
    assert csv_text(fit_thresholds(ds.dataset([str(f) for f in files]), swept=SWEPT, n_boot=30)) == expected


def test_swept_is_inferred_from_a_file_as_from_a_dataframe(written):
    """With swept=None the file's parameter columns are read until they vary, as the DataFrame's are."""
    out, table = written
    assert read_sweep(out / "results.parquet").group_columns == ("planted_fraction",)
    assert csv_text(fit_thresholds(out / "results.parquet", n_boot=20)) == csv_text(fit_thresholds(table, n_boot=20))


@pytest.mark.parametrize("case", ["unset sa_start beside a set one", "a string parameter", "rows shuffled"])
def test_group_keys_missing_values_strings_and_row_order(case, tmp_path):
    """NaN keys (one group, last), string keys and rows in any order give the DataFrame's numbers."""
    levels = np.round(np.linspace(0.3, 1.0, 8), 3)
    if case == "unset sa_start beside a set one":
        table = pd.concat([fake_results(Params(n_documents=1000), [{}], levels, 4, seed=1),
                           fake_results(Params(n_documents=1000, awareness_schedule="linear", sa_start=0.2), [{}],
                                        levels, 4, seed=1)], ignore_index=True)
        swept = ["sa_start", "situational_awareness"]
    elif case == "a string parameter":
        table = fake_results(Params(n_documents=1000), [{"citation_cue": c} for c in ("trusted", "cited")], levels, 4)
        swept = ["citation_cue", "situational_awareness"]
    else:
        table = fake_results(Params(n_documents=1000), [{"planted_fraction": r} for r in (0.25, 0.15)], levels, 4)
        table = table.sample(frac=1.0, random_state=3).reset_index(drop=True)
        swept = SWEPT
    table.to_parquet(tmp_path / "results.parquet", index=False, row_group_size=11)
    from_frame = fit_thresholds(table, swept=swept, n_boot=20)
    from_file = fit_thresholds(read_sweep(tmp_path / "results.parquet", swept, batch_rows=5), n_boot=20)
    assert csv_text(from_file) == csv_text(from_frame)
    pd.testing.assert_frame_equal(from_file, from_frame, check_exact=True)
    if case == "unset sa_start beside a set one":
        assert from_frame["sa_start"].iloc[0] == 0.2 and np.isnan(from_frame["sa_start"].iloc[1])


def test_figures_from_a_path_are_those_of_the_dataframe(written, tmp_path):
    """make_figures given results.parquet writes the same files, byte for byte, as given the DataFrame."""
    out, table = written
    thresholds = fit_thresholds(table, swept=SWEPT, n_boot=20)
    from_frame = make_figures(table, thresholds, tmp_path / "frame", swept=SWEPT)
    from_path = make_figures(out / "results.parquet", thresholds, tmp_path / "path", swept=SWEPT)
    assert [p.name for p in from_path] == [p.name for p in from_frame] == [
        "p_rebel.png", "phase_diagram.png", "uplift.png", "emergence.png"]
    for a, b in zip(from_frame, from_path):
        assert a.read_bytes() == b.read_bytes(), a.name
    # read once, fit and draw from the same compact data (thresholds fitted here when not given)
    data = read_sweep(out / "results.parquet", swept=SWEPT)
    drawn = make_figures(data, None, tmp_path / "data")
    redrawn = make_figures(table, None, tmp_path / "frame2", swept=SWEPT)
    assert [a.read_bytes() for a in drawn] == [b.read_bytes() for b in redrawn]


# -- what is read, and how big the compact form is --------------------------------------


def test_only_the_needed_columns_are_streamed(written, monkeypatch):
    """The pass over every row projects onto the needed columns; parameters come from one row group per group."""
    out, _ = written
    calls = []
    original = pq.ParquetFile.iter_batches

    def spy(self, *args, **kwargs):
        calls.append((tuple(kwargs.get("columns") or ()), kwargs.get("row_groups")))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", spy)
    data = read_sweep(out / "results.parquet", swept=SWEPT)
    full = [columns for columns, row_groups in calls if row_groups is None]
    assert full == [data.columns_read]
    assert set(data.columns_read) == NEEDED
    parameter_reads = [(columns, row_groups) for columns, row_groups in calls if row_groups is not None]
    assert 1 <= len(parameter_reads) <= len(data.groups)
    assert all(len(row_groups) == 1 and "persona" not in columns and "seed_key" not in columns
               for columns, row_groups in parameter_reads)
    all_columns = set(pq.ParquetFile(out / "results.parquet").schema_arrow.names)
    assert len(all_columns) > 40 and {"p_deceptive", "log_odds", "seed_key", "paranoia"} <= all_columns - NEEDED


def test_compact_size_does_not_depend_on_the_other_columns(written, tmp_path):
    """Forty more columns in the file change nothing in the compact form: not its arrays, not its size."""
    out, table = written
    wide = table.copy()
    rng = np.random.default_rng(0)
    for k in range(40):
        wide[f"extra_{k}"] = rng.random(len(wide))
    wide.to_parquet(tmp_path / "wide.parquet", index=False)
    narrow = read_sweep(out / "results.parquet", swept=SWEPT)
    widened = read_sweep(tmp_path / "wide.parquet", swept=SWEPT)
    assert widened.nbytes == narrow.nbytes
    assert widened.columns_read == narrow.columns_read
    for a, b in zip(narrow.groups, widened.groups):
        for name in ("levels", "units", "rebels", "trials", "cited_rates"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert a.first_row == b.first_row


def test_compact_size_is_a_few_bytes_per_replicate_and_level(written):
    """The arrays hold at most 24 bytes per (replicate, level) cell plus a little per group and run."""
    _, table = written
    data = read_sweep(table, swept=SWEPT)
    cells = sum(g.trials.size for g in data.groups)
    assert cells == len(table)  # one row per cell in a sweep
    assert data.nbytes <= 24 * cells + sum(16 * (g.levels.size + g.units.size + g.cited_rates.size) for g in data.groups)
    for g in data.groups:
        assert g.rebels.dtype == g.trials.dtype == np.uint8  # one row per cell: one byte
        assert g.sums["uplift"].dtype == np.float64 and g.missing["uplift"] is None  # uplift is always finite


def test_counts_widen_when_cells_hold_many_rows():
    """Cells of 300 rows (many points in one group) overflow no byte: the counts move to a wider type."""
    rng = np.random.default_rng(4)
    n = 300 * 2 * 3  # 300 rows per (replicate, level), 2 replicates, 3 levels
    table = pd.DataFrame({
        "situational_awareness": np.tile([0.2, 0.5, 0.8], n // 3),
        "replicate": np.repeat([0, 1], n // 2),
        "point": np.tile(np.repeat(np.arange(300), 3), 2),
        "persona": np.where(rng.random(n) < 0.4, "rebel", "aligned"),
        "uplift": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
    })
    group = read_sweep(table, batch_rows=257).groups[0]
    assert group.trials.dtype == np.uint16 and group.trials.tolist() == [[300] * 3] * 2
    crosstab = table.assign(rebel=table.persona == "rebel").groupby(["replicate", "situational_awareness"])["rebel"]
    assert group.rebels.ravel().tolist() == crosstab.sum().tolist()
    levels, means = group.per_level("uplift")
    expected = table.groupby(["replicate", "situational_awareness"])["uplift"].mean().to_numpy().reshape(2, 3)
    np.testing.assert_allclose(means, expected, rtol=1e-12)
    assert group.missing["uplift"].sum() == table["uplift"].isna().sum()


# -- errors ---------------------------------------------------------------------------------


def test_a_sweepdata_read_with_other_groups_is_refused(written):
    """Fitting a SweepData with a swept that would group it otherwise is an error, not a silent regrouping."""
    out, _ = written
    data = read_sweep(out / "results.parquet", swept=SWEPT)
    assert isinstance(data, SweepData)
    with pytest.raises(ValueError, match="group columns"):
        fit_thresholds(data, swept=["n_documents", "situational_awareness"])


def test_missing_files_and_columns_are_named(written, tmp_path):
    """A path that does not exist, or a file without persona, is an error naming it."""
    out, table = written
    with pytest.raises(FileNotFoundError, match="nowhere"):
        read_sweep(tmp_path / "nowhere.parquet")
    table.drop(columns=["persona"]).to_parquet(tmp_path / "no_persona.parquet", index=False)
    with pytest.raises(KeyError, match="persona"):
        fit_thresholds(tmp_path / "no_persona.parquet")
    with pytest.raises(KeyError, match="lab_policyy"):
        read_sweep(out / "results.parquet", swept=["lab_policyy"])
