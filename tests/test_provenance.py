import subprocess

from micon.provenance import commit_label, git_state, run_provenance


def test_git_state_names_the_commit_and_whether_tracked_files_changed(tmp_path):
    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "a.txt").write_text("1")
    git("add", "a.txt")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    state = git_state(tmp_path)
    assert len(state["commit"]) == 40 and state["dirty"] is False
    (tmp_path / "untracked.txt").write_text("x")
    assert git_state(tmp_path)["dirty"] is False  # untracked files do not count
    assert commit_label(tmp_path) == state["commit"][:12]
    (tmp_path / "a.txt").write_text("2")
    assert git_state(tmp_path)["dirty"] is True
    assert commit_label(tmp_path) == f"{state['commit'][:12]} (with uncommitted changes)"


def test_git_state_outside_a_work_tree_is_unknown(tmp_path):
    assert git_state(tmp_path) == {"commit": None, "dirty": None}
    assert commit_label(tmp_path) == "unknown"


def test_run_provenance_records_the_command(tmp_path):
    record = run_provenance(root=tmp_path, command="kedro run --env test")
    assert record["command"] == "kedro run --env test"
    assert {"commit", "dirty", "finished_at", "python", "platform"} <= set(record)
