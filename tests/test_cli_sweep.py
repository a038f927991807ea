"""The `persona-sim sweep` and `persona-sim threshold` commands."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from sim.cli import main

SMALL = ["--set", "n_documents=2000", "--set", "batch_size=100"]


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory):
    """A small sweep over awareness and planted share, run once through the command line."""
    out = tmp_path_factory.mktemp("cli") / "sweep"
    code = main(["sweep", *SMALL, "--grid", "situational_awareness=0.3:1:15", "--grid", "planted_fraction=0.15,0.25",
                 "--replicates", "6", "--seed", "5", "--out", str(out), "--quiet"])
    assert code == 0
    return out


def test_sweep_writes_results_manifest_thresholds_and_figures(finished_sweep):
    """The sweep folder holds the table, the manifest, the thresholds and the four figures."""
    names = {p.name for p in finished_sweep.iterdir()}
    assert {"results.parquet", "manifest.json", "thresholds.csv"} <= names
    assert {"p_rebel.png", "phase_diagram.png", "uplift.png", "emergence.png"} <= names
    for png in [n for n in names if n.endswith(".png")]:
        assert (finished_sweep / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    results = pd.read_parquet(finished_sweep / "results.parquet")
    assert len(results) == 15 * 2 * 6
    manifest = json.loads((finished_sweep / "manifest.json").read_text())
    assert manifest["command"].startswith("persona-sim sweep")
    assert manifest["swept"] == ["planted_fraction", "situational_awareness"]


def test_threshold_table_has_one_row_per_group_with_the_issue_columns(finished_sweep):
    """thresholds.csv: one row per planted share; s* below for 0.25 than for 0.15, near the mean field."""
    table = pd.read_csv(finished_sweep / "thresholds.csv")
    columns = list(table.columns)
    start = columns.index("s_star")
    assert columns[:start] == ["planted_fraction"]
    assert columns[start:start + 6] == ["s_star", "s_star_low", "s_star_high", "width", "s_star_meanfield_n",
                                        "s_star_meanfield_inf"]
    assert "note" in columns
    by_rho = table.set_index("planted_fraction")
    assert by_rho.loc[0.25, "s_star"] < by_rho.loc[0.15, "s_star"]
    for rho in (0.15, 0.25):
        row = by_rho.loc[rho]
        assert row["s_star_low"] <= row["s_star"] <= row["s_star_high"]
        assert abs(row["s_star"] - row["s_star_meanfield_n"]) < 0.05


def test_threshold_command_prints_and_rewrites_the_table(finished_sweep, capsys):
    """`persona-sim threshold DIR` prints the table and writes DIR/thresholds.csv again."""
    (finished_sweep / "thresholds.csv").unlink()
    assert main(["threshold", str(finished_sweep)]) == 0
    printed = capsys.readouterr().out
    assert "s*" in printed and "0.25" in printed
    assert (finished_sweep / "thresholds.csv").is_file()


def test_sweep_from_a_scenario_sweep_table(tmp_path, capsys):
    """A [sweep] table in a scenario file sets grid, replicates and seed; flags override it."""
    scenario = tmp_path / "s.toml"
    scenario.write_text(
        "# Question: a test\nn_documents = 1000\n\n[sweep]\nreplicates = 2\nseed = 3\n"
        "[sweep.grid]\nsituational_awareness = \"0.5:0.9:3\"\nplanted_fraction = [0.2]\n"
    )
    out = tmp_path / "out"
    assert main(["sweep", str(scenario), "--replicates", "3", "--out", str(out), "--no-plots", "--quiet"]) == 0
    assert capsys.readouterr().out == ""
    results = pd.read_parquet(out / "results.parquet")
    assert len(results) == 3 * 3
    assert set(results["seed_key"].str.split("/").str[0]) == {"3"}
    assert not list(out.glob("*.png"))


def test_sweep_prints_the_threshold_table(tmp_path, capsys):
    """Without --quiet the sweep prints its size and the threshold table."""
    out = tmp_path / "out"
    assert main(["sweep", *SMALL, "--grid", "situational_awareness=0.4:0.9:6", "--replicates", "3",
                 "--out", str(out), "--no-plots"]) == 0
    printed = capsys.readouterr().out
    assert "6 rows" not in printed and "18 rows" in printed
    assert "s*_inf" in printed


BAD = [
    (["--grid", "planted_fraction=0:2:3"], "planted_fraction"),
    (["--grid", "nosuch=1,2"], "nosuch"),
    (["--grid", "situational_awareness=0:1"], "START:STOP:COUNT"),
    (["--replicates", "0"], "--replicates"),
    (["--seed", "-3"], "--seed"),
    (["--workers", "0"], "--workers"),
    (["--sample", "lhs", "--points", "4"], "bounds"),
    (["--sample", "sobol", "--points", "6", "--bounds", "planted_fraction=0.1:0.2"], "power of 2"),
    (["--bounds", "planted_fraction=0.3:0.1", "--sample", "lhs", "--points", "4"], "LO < HI"),
    (["--executor", "dask"], "scheduler"),
    (["--set", "disclosed_fraction=0.8", "--grid", "planted_fraction=0.05,0.3"], "point"),
]


@pytest.mark.parametrize("args,named", BAD)
def test_bad_sweep_input_is_one_line_exit_2_nothing_written(tmp_path, capsys, args, named):
    """Bad sweep settings: one line naming them, exit 2, no output folder."""
    out = tmp_path / "out"
    code = main(["sweep", *args, "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and named in err and "Traceback" not in err
    assert not out.exists()


def test_threshold_on_a_folder_without_a_sweep(tmp_path, capsys):
    """`threshold` on a folder without results is a one-line error, exit 2."""
    assert main(["threshold", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "results.parquet" in err


# -- lab policies ----------------------------------------------------------------------
def test_sweep_over_lab_policies_from_the_command_line(tmp_path, capsys):
    import pandas as pd

    from sim.cli import main

    code = main(["sweep", "--grid", "situational_awareness=0.2,0.9", "--grid", "lab_policy=static,come_clean",
                 "--set", "n_documents=1500", "--replicates", "2", "--out", str(tmp_path / "s"), "--no-plots",
                 "--quiet"])
    assert code == 0
    df = pd.read_parquet(tmp_path / "s" / "results.parquet")
    assert set(df["lab_policy"]) == {"static", "come_clean"}
    assert {"lab_alarms", "lab_came_clean", "rebel_generations"} <= set(df.columns)
