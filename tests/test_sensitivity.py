"""Global sensitivity (sim/sensitivity.py, sim/meanfield_batch.py, docs/model.md §11):
the batched mean field against sim.meanfield, known answers of the indices,
reproducibility, and the command's bad inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim import Params, ParameterError
from sim import meanfield as mf
from sim.cli import main
from sim.meanfield_batch import thresholds_and_p_rebel
from sim.sensitivity import Factor, analyse, parse_factor, plan_sensitivity, run_sensitivity, sample, summary


def _lowest_upward_root(params: Params) -> float:
    """The reference: sim.meanfield's roots (1,000-point bracket, fine quadrature)."""
    roots = mf.thresholds(params)
    up = [r for r in roots if mf.moments(params, [r + 1e-5])[0][0] > 0]
    if up:
        return float(up[0])
    return 0.0 if mf.moments(params, [1e-3])[0][0] > 0 else 1.0


def test_batched_mean_field_matches_sim_meanfield():
    rng = np.random.default_rng(7)
    points = []
    for i in range(12):
        points.append(Params(
            deceptive_plant_rate=rng.uniform(0.15, 0.5), candid_plant_rate=float(np.exp(rng.uniform(-7, -3))),
            synthetic_detectability=rng.uniform(0.5, 4.0), believed_planted_cited_rate=float(np.exp(rng.uniform(-5, -2))),
            planted_fraction=rng.uniform(0.05, 0.4), citations_per_document=int(rng.integers(1, 6)),
            prior_deceptive=rng.uniform(0.01, 0.3), laundering=0.3 if i % 3 == 0 else 0.0,
            disclosed_fraction=0.05 if i % 4 == 0 else 0.0, control_likelihood_ratio=1.5 if i % 5 == 0 else 1.0))
    points.append(Params(planted_fraction=0.8))  # mu > 0 from the smallest awareness on: s* = 0
    out = thresholds_and_p_rebel(points, at_awareness=0.55)
    for i, params in enumerate(points):
        assert out["s_star_inf"][i] == pytest.approx(_lowest_upward_root(params), abs=1e-8)
        assert out["threshold_exists"][i] == (1.0 if out["s_star_inf"][i] < 1.0 else 0.0)
        assert out["p_rebel_at"][i] == pytest.approx(float(mf.p_rebel(params, [0.55])[0]), abs=1e-10)
    assert out["s_star_inf"][-1] == 0.0


def test_reference_point_and_no_threshold():
    out = thresholds_and_p_rebel([Params(), Params(planted_fraction=0.05), Params(deceptive_plant_rate=0.01)], 0.65)
    assert out["s_star_inf"][0] == pytest.approx(float(mf.thresholds(Params())[0]), abs=1e-9)
    assert out["s_star_inf"][1:].tolist() == [1.0, 1.0] and out["threshold_exists"][1:].tolist() == [0.0, 0.0]


def test_points_with_a_reacting_lab_use_the_general_mean_field():
    params = Params(lab_policy="come_clean")
    out = thresholds_and_p_rebel([params], 0.9)
    assert out["p_rebel_at"][0] == pytest.approx(float(mf.p_rebel(params, [0.9])[0]), abs=1e-12)


def _plan(factors, samples=512, seed=3):
    return plan_sensitivity(Params(), factors, method="sobol", samples=samples, seed=seed, outputs=["s_star_inf"])


def test_additive_function_indices_match_analytic_values_and_a_dummy_gets_zero():
    factors = [Factor("planted_fraction", 0.0, 1.0), Factor("deceptive_plant_rate", 0.0, 1.0),
               Factor("candid_plant_rate", 0.0, 1.0)]
    plan = _plan(factors, samples=2048)
    x, _ = sample(plan)
    a = np.array([3.0, 1.0, 0.0])  # the third parameter does not enter
    y = x @ a
    indices = analyse(plan, x, pd.DataFrame({"s_star_inf": y}))
    analytic = a**2 / np.sum(a**2)  # additive: S1 = ST = a_i^2 Var(x_i) / sum
    for i, row in indices.iterrows():
        assert row["S1"] == pytest.approx(analytic[i], abs=0.03)
        assert row["ST"] == pytest.approx(analytic[i], abs=0.03)
    dummy = indices.iloc[2]
    assert abs(dummy["ST"]) <= dummy["ST_conf"] + 1e-12 and abs(dummy["S1"]) <= dummy["S1_conf"] + 1e-3


def test_prior_does_not_enter_the_large_corpus_threshold(tmp_path):
    result = run_sensitivity(plan_sensitivity(samples=64, seed=1, outputs=["s_star_inf", "p_rebel_at"]),
                             tmp_path / "s", progress=False)
    prior = result["indices"].query("output == 's_star_inf' and parameter == 'prior_deceptive'").iloc[0]
    assert abs(prior["ST"]) <= prior["ST_conf"] + 1e-12
    drivers = result["indices"].query("output == 's_star_inf'").sort_values("ST", ascending=False)
    assert drivers.iloc[0]["ST"] > 0.1


def test_same_seed_same_indices(tmp_path):
    plan = plan_sensitivity(samples=32, seed=5)
    run_sensitivity(plan, tmp_path / "a", progress=False)
    run_sensitivity(plan, tmp_path / "b", progress=False)
    assert (tmp_path / "a" / "indices.csv").read_bytes() == (tmp_path / "b" / "indices.csv").read_bytes()
    samples = pd.read_parquet(tmp_path / "a" / "samples.parquet")
    assert samples["sample"].tolist() == list(range(32 * 18))
    assert {"synthetic_detectability_auc", "synthetic_detectability", "seed_key", "s_star_inf",
            "threshold_exists", "p_rebel_at"} <= set(samples.columns)
    auc = samples["synthetic_detectability_auc"].to_numpy()
    assert ((auc >= 0.75) & (auc <= 0.995)).all()
    from sim.calibration import detectability_from_auc

    assert samples["synthetic_detectability"].iloc[0] == pytest.approx(detectability_from_auc(auc[0]))


def test_morris_writes_its_columns(tmp_path):
    plan = plan_sensitivity(method="morris", samples=10, seed=2)
    result = run_sensitivity(plan, tmp_path / "m", progress=False)
    assert list(result["indices"].columns) == ["output", "parameter", "mu_star", "mu_star_conf", "sigma"]
    assert len(result["samples"]) == 10 * (len(plan.factors) + 1)


def test_log_and_auc_factors():
    f = parse_factor("candid_plant_rate=log:0.001:0.1")
    values = f.values(np.log(np.array([0.001, 0.01, 0.1])))
    assert values == pytest.approx([0.001, 0.01, 0.1])
    g = parse_factor("synthetic_detectability=auc:0.5:0.9")
    assert g.values_at_ends()[0] == 0.0 and g.unit_column == "synthetic_detectability_auc"
    assert parse_factor("citations_per_document=1:6").values(np.array([1.4, 5.6])).tolist() == [1, 6]


@pytest.mark.parametrize("text", [
    "planted_fraction=0.3:0.1", "planted_fraction=0:2", "no_such=0:1", "citation_cue=0:1",
    "candid_plant_rate=log:0:0.1", "synthetic_detectability=auc:0.6:1.0", "planted_fraction=sad:30:40",
    "planted_fraction", "planted_fraction=a:b",
])
def test_bad_bounds_are_refused(text):
    with pytest.raises(ParameterError):
        parse_factor(text)


@pytest.mark.parametrize("args", [
    ["--bounds", "planted_fraction=0.3:0.1"],
    ["--samples", "100"],
    ["--method", "fast"],
    ["--output", "uplift"],
    ["--at-awareness", "2"],
    ["--bounds", "planted_fraction=0.1:0.2", "--bounds", "planted_fraction=0.1:0.3"],
    ["--bounds", "planted_fraction=0.5:0.9", "--bounds", "disclosed_fraction=0.3:0.6"],
    ["--seed", "-1"],
])
def test_cli_bad_inputs_one_line_exit_2_nothing_written(tmp_path, capsys, args):
    out = tmp_path / "out"
    code = main(["sensitivity", "--out", str(out), "--quiet", *args])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("persona-sim: error:")
    assert not out.exists()


def test_cli_writes_the_files(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["sensitivity", "--out", str(out), "--samples", "16", "--bounds", "planted_fraction=0.1:0.3",
                 "--bounds", "synthetic_detectability=auc:0.7:0.99", "--at-awareness", "sad:52"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "planted_fraction" in printed and "no threshold at" in printed
    names = {p.name for p in out.iterdir()}
    assert {"samples.parquet", "indices.csv", "convergence.csv", "manifest.json", "indices.png",
            "s_star_distribution.png", "convergence.png"} <= names
    indices = pd.read_csv(out / "indices.csv")
    assert list(indices.columns) == ["output", "parameter", "S1", "S1_conf", "ST", "ST_conf"]
    from figure_texts import problems  # the figures speak words, not code names (tests/figure_texts.py)

    for png in sorted(out.glob("*.png")):
        assert problems(png) == []
    # a second run into the same folder is refused, with --overwrite it replaces it
    assert main(["sensitivity", "--out", str(out), "--samples", "16", "--quiet"]) == 2
    assert main(["sensitivity", "--out", str(out), "--samples", "16", "--quiet", "--overwrite", "--no-plots"]) == 0
    assert not (out / "indices.png").exists()


def test_simulated_outputs_interpolate_the_rebel_share(tmp_path):
    from sim.sensitivity import simulated_outputs

    levels = [0.0, 0.25, 0.5, 0.75, 1.0]
    share = {0: [0, 0, 0.25, 0.75, 1.0], 1: [0, 0, 0, 0, 0.25], 2: [0.5, 1, 1, 1, 1]}
    rows = []
    for point, shares in share.items():
        for level, p in zip(levels, shares):
            for r in range(4):
                rows.append({"point": point, "situational_awareness": level, "persona": "rebel" if r < 4 * p else "aligned"})
    pd.DataFrame(rows).to_parquet(tmp_path / "results.parquet")
    out = simulated_outputs(tmp_path / "results.parquet", 3, levels, 0.5)
    assert out["s_star_sim"].tolist() == pytest.approx([0.5 + 0.25 * 0.5, 1.0, 0.0])
    assert out["threshold_exists_sim"].tolist() == [1, 0, 1]
    assert out["p_rebel_at_sim"].tolist() == [0.25, 0.0, 1.0]


def test_simulate_through_the_sweep_engine_and_resume(tmp_path, capsys):
    out = tmp_path / "sim"
    args = ["sensitivity", "--simulate", "--set", "n_documents=300", "--samples", "4", "--replicates", "2",
            "--levels", "6", "--out", str(out), "--quiet", "--no-plots", "--workers", "1"]
    assert main(args) == 0
    samples = pd.read_parquet(out / "samples.parquet")
    assert {"s_star_sim", "threshold_exists_sim", "p_rebel_at_sim"} <= set(samples.columns)
    results = pd.read_parquet(out / "results.parquet", columns=["point", "replicate", "situational_awareness"])
    assert results["point"].nunique() == len(samples) and results["replicate"].nunique() == 2
    assert sorted(results["situational_awareness"].unique()) == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    first = (out / "indices.csv").read_bytes()
    assert main(args) == 2  # a finished simulation: --resume or --overwrite
    assert main([*args, "--resume"]) == 0
    assert (out / "indices.csv").read_bytes() == first
    capsys.readouterr()
    assert main([*(a for a in args if a != "--quiet"), "--resume"]) == 0  # prints the simulated summary too
    printed = capsys.readouterr().out
    facts = summary(samples, simulated=True)
    assert f"simulated: P(rebel) > 1/2 at awareness 0.4: {facts['share_rebel_at']:.1%} of the points" in printed
    assert f"simulated: no threshold at {facts['share_without_threshold']:.1%} of the points" in printed
    assert main(["sensitivity", "--resume", "--out", str(tmp_path / "x"), "--quiet"]) == 2  # --resume needs --simulate
    assert "--simulate" in capsys.readouterr().err.splitlines()[-1]


def test_a_parameter_the_kernel_does_not_know_routes_the_point_to_sim_meanfield(monkeypatch):
    import sim.meanfield_batch as batch

    params = [Params(norm_weight=2.0, planted_fraction=0.2), Params(norm_weight=2.0, planted_fraction=0.05)]
    fast = thresholds_and_p_rebel(params, 0.5)
    monkeypatch.setattr(batch, "KNOWN_PARAMETERS", batch.KNOWN_PARAMETERS - {"norm_weight"})
    calls = []
    original = batch.general_s_star
    monkeypatch.setattr(batch, "general_s_star", lambda p: (calls.append(p), original(p))[1])
    slow = batch.thresholds_and_p_rebel(params, 0.5)
    assert len(calls) == 2
    for key in fast:
        assert slow[key] == pytest.approx(fast[key], abs=1e-8)


def test_general_s_star_agrees_with_the_kernel():
    from sim.meanfield_batch import general_s_star

    for params in [Params(), Params(planted_fraction=0.05), Params(planted_fraction=0.8), Params(laundering=0.2)]:
        kernel = thresholds_and_p_rebel([params])
        s_star, exists = general_s_star(params)
        assert s_star == pytest.approx(kernel["s_star_inf"][0], abs=1e-8) and exists == kernel["threshold_exists"][0]


def test_by_a_categorical_parameter_one_analysis_per_value(tmp_path, capsys):
    out = tmp_path / "by"
    assert main(["sensitivity", "--samples", "16", "--by", "citation_cue", "--out", str(out), "--no-plots"]) == 0
    printed = capsys.readouterr().out
    assert "-- citation_cue = cited" in printed and "-- citation_cue = trusted" in printed
    indices = pd.read_csv(out / "indices.csv")
    assert list(indices.columns[:2]) == ["citation_cue", "output"]
    assert len(indices) == 2 * 3 * 8
    samples = pd.read_parquet(out / "samples.parquet")
    assert samples.groupby("citation_cue")["sample"].apply(list).tolist() == [list(range(16 * 18))] * 2
    # the same design for both values: only the outputs differ
    cited, trusted = (samples[samples["citation_cue"] == v].reset_index(drop=True) for v in ("cited", "trusted"))
    assert cited["planted_fraction"].equals(trusted["planted_fraction"])
    alone = run_sensitivity(plan_sensitivity(samples=16, outputs=None), tmp_path / "alone", progress=False)
    assert np.array_equal(alone["samples"]["s_star_inf"].to_numpy(), cited["s_star_inf"].to_numpy())


@pytest.mark.parametrize("args", [["--by", "planted_fraction"], ["--by", "nothing"], ["--by", "learner_model"]])
def test_bad_by_is_one_line_exit_2(tmp_path, capsys, args):
    assert main(["sensitivity", "--out", str(tmp_path / "o"), "--quiet", *args]) == 2
    assert capsys.readouterr().err.count("\n") == 1 and not (tmp_path / "o").exists()


def test_a_plan_above_the_memory_limit_is_refused_before_anything_is_written(tmp_path, capsys):
    out = tmp_path / "big"
    assert main(["sensitivity", "--samples", "1048576", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "estimated peak memory" in err and not out.exists()


@pytest.mark.parametrize("args", [["--set", "learner_model=learning"], ["--by", "learner_model"]])
def test_the_learning_learner_has_no_mean_field_here(tmp_path, capsys, args):
    assert main(["sensitivity", "--out", str(tmp_path / "o"), "--quiet", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "learner" in err and not (tmp_path / "o").exists()
    with pytest.raises(ParameterError, match="learning"):
        thresholds_and_p_rebel([Params(learner_model="learning")])


def test_the_learning_learner_through_simulation(tmp_path):
    out = tmp_path / "learning"
    assert main(["sensitivity", "--simulate", "--set", "learner_model=learning", "--set", "n_documents=300",
                 "--samples", "2", "--replicates", "2", "--levels", "3", "--out", str(out), "--quiet", "--no-plots",
                 "--bounds", "planted_fraction=0.1:0.3", "--bounds", "deceptive_plant_rate=0.15:0.5"]) == 0
    indices = pd.read_csv(out / "indices.csv")
    assert set(indices["output"]) == {"s_star_sim", "threshold_exists_sim", "p_rebel_at_sim"}
    samples = pd.read_parquet(out / "samples.parquet")
    assert "s_star_inf" not in samples and "p_rebel_at_sim" in samples


def test_learners_compared_by_simulation_on_one_design(tmp_path):
    """--by learner_model --simulate (issue 13, item 5): both learners simulated on the
    same sample design in one sweep; one analysis each of the simulated outputs,
    stacked with a learner_model column; each value's runs are those a plain
    --simulate of that learner would make at the same points."""
    from sim import Params
    from sim.factors import parse_factor
    from sim.sensitivity import SIMULATED_OUTPUTS

    factors = [parse_factor("planted_fraction=0.1:0.3"), parse_factor("synthetic_detectability=1:4")]
    plan = plan_sensitivity(Params(n_documents=300), factors, samples=4, simulate=True, replicates=2, levels=3,
                            by="learner_model")
    assert plan.outputs == SIMULATED_OUTPUTS
    result = run_sensitivity(plan, tmp_path / "by", progress=False)
    samples, indices = result["samples"], result["indices"]
    n = plan.n_points
    assert samples["learner_model"].tolist() == ["informed"] * n + ["learning"] * n
    assert samples["seed_key"].tolist() == [f"0/{i}" for i in range(2 * n)]
    informed, learning = (samples[samples["learner_model"] == v].reset_index(drop=True) for v in ("informed", "learning"))
    assert informed["planted_fraction"].equals(learning["planted_fraction"])
    assert set(indices["learner_model"]) == {"informed", "learning"}
    runs = pd.read_parquet(tmp_path / "by" / "results.parquet", columns=["point", "learner_model"])
    assert (runs.groupby("point")["learner_model"].first().to_numpy() == np.repeat(["informed", "learning"], n)).all()
    for value, rows in samples.groupby("learner_model"):  # summary() of the simulated outputs, per learner
        facts = summary(rows, simulated=True)
        exists = rows["threshold_exists_sim"].to_numpy() == 1
        assert facts["share_without_threshold"] == pytest.approx(1 - exists.mean()), value
        assert facts["share_rebel_at"] == pytest.approx((rows["p_rebel_at_sim"] > 0.5).mean()), value
        if exists.any():
            assert facts["s_star_median"] == pytest.approx(np.median(rows["s_star_sim"][exists])), value
        assert summary(rows) == {"points": float(len(rows))}  # no mean-field outputs here
