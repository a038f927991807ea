"""The persona-sim command line: outputs, help, and one-line errors on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sim import PARAMETERS
from sim.cli import main
from sim.schema import GENERATION_COLUMNS

SMALL = ["--set", "n_documents=600", "--set", "batch_size=50"]


def run_cli(*args: str) -> int:
    return main(list(args))


def test_run_writes_trajectory_summary_and_figure(tmp_path, capsys):
    """`run` prints a table per learner and writes the CSV, the JSON and the PNG."""
    out = tmp_path / "out"
    code = run_cli("run", *SMALL, "--awareness", "0.1,0.9", "--seed", "4", "--out", str(out))
    assert code == 0
    printed = capsys.readouterr().out
    assert "persona" in printed and "0.9" in printed and "rebel" in printed
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "manifest.json", "summary.json", "trajectory.csv", "trajectory.png"]
    trajectory = pd.read_csv(out / "trajectory.csv")
    assert set(trajectory["situational_awareness"]) == {0.1, 0.9}
    assert trajectory["documents_read"].max() == 600
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seed"] == 4
    assert summary["parameters"]["n_documents"] == 600
    assert set(summary["parameters"]) == {p.name for p in PARAMETERS}
    assert 0 < summary["real_cited_rate"] < 1
    assert summary["package_version"]
    assert [row["persona"] for row in summary["final"]] == ["aligned", "rebel"]
    assert (out / "trajectory.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_run_is_reproducible_by_seed(tmp_path):
    """The same command and seed write the same trajectory, byte for byte."""
    for name in ("a", "b"):
        assert run_cli("run", *SMALL, "--awareness", "0.7", "--seed", "9", "--out", str(tmp_path / name)) == 0
    assert (tmp_path / "a" / "trajectory.csv").read_bytes() == (tmp_path / "b" / "trajectory.csv").read_bytes()


def test_scenario_file_and_set_override(tmp_path):
    """A scenario file sets parameters and --set overrides it."""
    scenario = tmp_path / "s.toml"
    scenario.write_text("# question\nplanted_fraction = 0.0\ndisclosed_fraction = 0.1\nn_documents = 300\n")
    out = tmp_path / "out"
    assert run_cli("run", str(scenario), "--set", "n_documents=400", "--out", str(out)) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["parameters"]["disclosed_fraction"] == 0.1
    assert summary["parameters"]["n_documents"] == 400


@pytest.mark.parametrize("name", ["no_planting", "alignment_pretraining", "constitution", "planting_with_disclosure"])
def test_shipped_scenarios_are_valid(name):
    """Every shipped scenario file parses, opens with its question and validates."""
    from sim import Params

    path = Path(__file__).parents[1] / "scenarios" / f"{name}.toml"
    first = path.read_text().splitlines()[0]
    assert first.startswith("# Question:")
    Params.from_toml(path)


def test_help_lists_every_parameter_with_meaning_and_default(capsys):
    """`persona-sim --help` and `run --help` name each parameter, its default and meaning."""
    for args in (["--help"], ["run", "--help"]):
        with pytest.raises(SystemExit) as exit_info:
            main(args)
        assert exit_info.value.code == 0
        text = capsys.readouterr().out
        for p in PARAMETERS:
            assert p.name in text
            assert p.meaning.split()[0] in text
        assert "default 0.15" in text


BAD_INPUTS = [
    (["--set", "planted_fractoin=0.1"], "planted_fractoin"),
    (["--set", "planted_fraction=1.5"], "planted_fraction"),
    (["--set", "planted_fraction=nan"], "planted_fraction"),
    (["--set", "planted_fraction=abc"], "planted_fraction"),
    (["--set", "planted_fraction=0.6", "--set", "disclosed_fraction=0.5"], "disclosed_fraction"),
    (["--set", "n_documents=0"], "n_documents"),
    (["--set", "n_documents=2.5"], "n_documents"),
    (["--set", "batch_size=0"], "batch_size"),
    (["--set", "prior_deceptive=0"], "prior_deceptive"),
    (["--set", "awareness_schedule=cubic"], "awareness_schedule"),
    (["--set", "concealment=1.5"], "concealment"),
    (["--set", "concealment=-0.1"], "concealment"),
    (["--set", "noequals"], "NAME=VALUE"),
    (["--awareness", "0.2,1.5"], "awareness"),
    (["--awareness", "0.2,x"], "awareness"),
    (["--seed", "-1"], "seed"),
    (["--seed", "one"], "seed"),
]


@pytest.mark.parametrize("args,named", BAD_INPUTS)
def test_bad_value_is_one_line_exit_2_nothing_written(tmp_path, capsys, args, named):
    """A bad value ends with one line naming it, exit code 2, and no output folder."""
    out = tmp_path / "out"
    code = run_cli("run", *args, "--out", str(out))
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and named in err and "allowed" in err
    assert "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize(
    "content,named",
    [
        (None, "does not exist"),
        ("planted_fraction = \n", "not valid TOML"),
        ("plantd_fraction = 0.1\n", "plantd_fraction"),
        ('planted_fraction = "lots"\n', "planted_fraction"),
        ("n_documents = true\n", "n_documents"),
        ("[swep]\nreplicates = 3\n", "swep"),
    ],
)
def test_bad_scenario_file_is_one_line_exit_2(tmp_path, capsys, content, named):
    """A missing or malformed scenario file is named in one line, exit 2, nothing written."""
    path = tmp_path / "bad.toml"
    if content is not None:
        path.write_text(content)
    out = tmp_path / "out"
    code = run_cli("run", str(path), "--out", str(out))
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and named in err and "bad.toml" in err
    assert not out.exists()


def test_out_that_is_a_file_is_refused(tmp_path, capsys):
    """--out naming an existing file is refused before anything runs."""
    target = tmp_path / "file"
    target.write_text("keep me")
    assert run_cli("run", *SMALL, "--out", str(target)) == 2
    assert "--out" in capsys.readouterr().err
    assert target.read_text() == "keep me"


def test_console_script_reports_errors_without_traceback(tmp_path):
    """The installed entry point itself exits 2 with one stderr line on a bad flag value."""
    proc = subprocess.run(
        [sys.executable, "-m", "sim.cli", "run", "--set", "n_documents=-5", "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "n_documents" in proc.stderr
    assert "Traceback" not in proc.stderr
    unknown = subprocess.run(
        [sys.executable, "-m", "sim.cli", "run", "--frobnicate"], capture_output=True, text=True, timeout=120
    )
    assert unknown.returncode == 2 and unknown.stderr.strip().count("\n") == 0


def test_demo_refuses_a_port_out_of_range(capsys):
    """`persona-sim demo --port 70000` is a one-line error, exit 2, and starts no server."""
    assert main(["demo", "--port", "70000"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--port" in err


# -- labs and generations --------------------------------------------------------------
def test_run_reports_the_labs_and_the_generations(tmp_path, capsys):
    import json

    import pandas as pd

    from sim.cli import main

    out = tmp_path / "run"
    code = main(["run", "--set", "lab_policy=double_down", "--set", "generations=3", "--set", "n_documents=1500",
                 "--awareness", "0.2,0.9", "--out", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "lab policy double_down" in text and "generations (3)" in text
    table = pd.read_csv(out / "generations.csv")
    assert list(table.columns) == list(GENERATION_COLUMNS) and len(table) == 6
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["generations"]) == 6
    trajectory = pd.read_csv(out / "trajectory.csv")
    assert sorted(trajectory["generation"].unique()) == [0, 1, 2]


def test_run_survives_a_lab_that_plants_everything(tmp_path, capsys):
    from sim.cli import main

    code = main(["run", "--set", "planted_fraction=0.9", "--set", "lab_policy=double_down", "--set",
                 "planting_step=0.1", "--set", "generations=2", "--set", "n_documents=1000", "--awareness", "0.9",
                 "--out", str(tmp_path / "o")])
    assert code == 0
    assert (tmp_path / "o" / "summary.json").exists()


def test_run_with_a_reacting_lab_and_a_rising_schedule(tmp_path, capsys):
    from sim.cli import main

    code = main(["run", "--set", "lab_policy=come_clean", "--set", "sa_start=0.1", "--set",
                 "awareness_schedule=linear", "--set", "n_documents=1000", "--out", str(tmp_path / "o")])
    assert code == 0


def test_output_into_a_reader_that_stops_early_ends_quietly(tmp_path):
    """`persona-sim ... | head -1`: no BrokenPipeError traceback, exit 141 (128 + SIGPIPE)."""
    import subprocess
    import sys

    argv = ["run", "--set", "n_documents=500", "--awareness", ",".join(["0.5"] * 3000), "--out", str(tmp_path / "run")]
    code = f"import sys; from sim.cli import main; sys.exit(main({argv!r}))"
    # 3,000 result lines: more than a pipe holds, so the writer meets the closed pipe
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.readline()
    process.stdout.close()  # the reader stops after one line
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=120) == 141, stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr
    assert (tmp_path / "run" / "manifest.json").is_file()  # written before the printing


def _console(body: str, tmp_path) -> subprocess.CompletedProcess:
    """Run sim.cli.console() in a new interpreter with ``main`` replaced by ``body``'s."""
    code = f"import sys, threading, time\nimport sim.cli as cli\n{body}\ncli.main = main\ncli.console()\n"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)


def test_the_console_script_flushes_what_main_printed_and_exits_with_its_code(tmp_path):
    """The console script ends without Python's teardown (issue 18): what main printed,
    buffered or not, reaches the reader whole, and the exit code is main's."""
    done = _console("def main():\n    print('x' * 100_000, end='')\n    print('err', file=sys.stderr, end='')\n"
                    "    return 3", tmp_path)
    assert done.returncode == 3
    assert done.stdout == "x" * 100_000 and done.stderr == "err"


def test_the_console_script_waits_for_a_thread_still_running(tmp_path):
    """A thread that is not a daemon still running when main returns: the usual exit,
    which waits for it (its file is written)."""
    done = _console("def main():\n    threading.Thread(target=lambda: (time.sleep(0.3), "
                    "open('late.txt', 'w').write('done'))).start()\n    return 0", tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "late.txt").read_text() == "done"


def test_the_console_script_is_what_pip_installs():
    """``persona-sim`` runs :func:`sim.cli.console` (pyproject.toml)."""
    import tomllib

    scripts = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"persona-sim": "sim.cli:console"}
