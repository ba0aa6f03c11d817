"""Run folders: the manifest, conflicts refused before any work (unless --overwrite), the fcntl lock, and
all-or-nothing commits under a full disk."""

from __future__ import annotations

import errno
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sast_core.atomic import WriteError
from sast_core.errors import InputError
from sast_core.runs import LOCK, MANIFEST, Entry, RunFolder, completed, read_entries


def write(folder: Path, entry: Entry, outputs: dict, **options) -> None:
    with RunFolder(folder).session(entry, overwrite=options.pop("overwrite", False), **options) as session:
        session.commit(outputs, model_sha256=options.get("model"))


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()} if folder.exists() else {}


def test_manifest_records_the_entry_and_the_lock_is_gone(tmp_path):
    entry = Entry("tool.eval", {"modes": ("hard",), "band": 0.1}, ("eval.json",), model_sha256="ab" * 32,
                  argv=["python", "-m", "tool.eval"])
    write(tmp_path / "run", entry, {"eval.json": "{}\n"})
    manifest = json.loads((tmp_path / "run" / MANIFEST).read_text())
    record = manifest["entries"]["tool.eval"]
    assert manifest["format"] == "sast.run-folder" and record["complete"] is True
    assert record["configuration"] == {"modes": ["hard"], "band": 0.1} and record["model_sha256"] == "ab" * 32
    assert record["files"] == ["eval.json"] and record["package_version"]
    assert completed(tmp_path / "run", "tool.eval").configuration == record["configuration"]
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["eval.json", MANIFEST]


@pytest.mark.parametrize(("existing", "new", "options", "needle"), [
    (Entry("a", {"x": 1}, ("a.json",)), Entry("a", {"x": 2}, ("a.json",)), {}, "another configuration (--x: 1 -> 2)"),
    (Entry("a", {}, ("a.json",), model_sha256="1" * 64), Entry("b", {}, ("b.json",), model_sha256="2" * 64), {},
     "results for another model"),
    (Entry("a", {}, ("a.json",), model_sha256="1" * 64), Entry("t", {}, ("m.bin",)), {"replaces_model": True},
     "the model this run would replace"),
    (Entry("all", {}, ("lip.json", "summary.md")), Entry("lip", {}, ("lip.json",)), {}, "would rewrite"),
])
def test_contradicting_results_are_refused_before_any_work(tmp_path, existing, new, options, needle):
    write(tmp_path, existing, {name: "old" for name in existing.files})
    before = snapshot(tmp_path)
    with pytest.raises(InputError) as info:
        RunFolder(tmp_path).check(new, overwrite=False, **options)
    message = str(info.value)
    assert needle in message and "--overwrite" in message and "\n" not in message
    with pytest.raises(InputError):  # checked again under the lock
        with RunFolder(tmp_path).session(new, overwrite=False, **options):
            pass
    assert snapshot(tmp_path) == before


def test_overwrite_drops_the_contradicted_entry_and_its_files(tmp_path):
    write(tmp_path, Entry("all", {}, ("lip.json", "summary.md"), model_sha256="1" * 64),
          {"lip.json": "old", "summary.md": "old"})
    write(tmp_path, Entry("lip", {}, ("lip.json",), model_sha256="1" * 64), {"lip.json": "new"}, overwrite=True)
    assert sorted(read_entries(tmp_path)) == ["lip"]
    assert (tmp_path / "lip.json").read_text() == "new" and not (tmp_path / "summary.md").exists()


def test_same_configuration_rewrites_and_ignored_keys_may_change(tmp_path):
    write(tmp_path, Entry("t", {"epochs": 1, "lr": 0.1}, ("m.json",)), {"m.json": "1"})
    write(tmp_path, Entry("t", {"epochs": 1, "lr": 0.1}, ("m.json",)), {"m.json": "2"})
    write(tmp_path, Entry("t", {"epochs": 3, "lr": 0.1}, ("m.json",)), {"m.json": "3"}, ignore=("epochs",))
    assert read_entries(tmp_path)["t"].configuration["epochs"] == 3


def test_files_no_manifest_describes_are_not_replaced_silently(tmp_path):
    (tmp_path / "eval.json").write_text("someone else's")
    with pytest.raises(InputError, match="no manifest entry describes"):
        RunFolder(tmp_path).check(Entry("e", {}, ("eval.json",)), overwrite=False)
    RunFolder(tmp_path).check(Entry("e", {}, ("eval.json",)), overwrite=False, adopt=True)


def test_a_corrupt_manifest_is_one_line(tmp_path):
    (tmp_path / MANIFEST).write_text("{not json")
    with pytest.raises(InputError, match="corrupt run manifest"):
        RunFolder(tmp_path).check(Entry("e", {}, ("e.json",)), overwrite=False)
    write(tmp_path, Entry("e", {}, ("e.json",)), {"e.json": "x"}, overwrite=True)
    assert list(read_entries(tmp_path)) == ["e"]


def test_unwritable_out_is_refused(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for out in (blocker, blocker / "sub"):
        with pytest.raises(InputError, match="--out"):
            RunFolder(out).check(Entry("e", {}, ("e.json",)), overwrite=False)


def test_a_second_writer_is_refused_while_the_first_holds_the_lock(tmp_path):
    entry = Entry("t", {}, ("m.json",))
    with RunFolder(tmp_path).session(entry, overwrite=False) as session:
        assert (tmp_path / LOCK).exists()
        with pytest.raises(InputError, match="in use by another command") as info:
            with RunFolder(tmp_path).session(entry, overwrite=False):
                pass
        assert "\n" not in str(info.value)
        session.commit({"m.json": "1"})
    assert not (tmp_path / LOCK).exists()


def test_the_lock_holds_across_processes(tmp_path):
    """A child process holds the lock (it reports its pid); this process is refused, then succeeds after."""
    code = textwrap.dedent(f"""
        import sys, time
        from sast_core.runs import Entry, RunFolder
        with RunFolder({str(tmp_path)!r}).session(Entry("t", {{}}, ("m.json",)), overwrite=False):
            print("locked", flush=True)
            sys.stdin.readline()
    """)
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                             cwd=Path(__file__).parents[2])
    try:
        assert child.stdout.readline().strip() == "locked"
        with pytest.raises(InputError, match=f"pid {child.pid}"):
            write(tmp_path, Entry("t", {}, ("m.json",)), {"m.json": "mine"})
    finally:
        child.communicate("\n", timeout=30)
    write(tmp_path, Entry("t", {}, ("m.json",)), {"m.json": "mine"})
    assert (tmp_path / "m.json").read_text() == "mine"


def test_a_full_disk_during_commit_replaces_nothing_and_stays_untrusted(tmp_path, monkeypatch):
    old = Entry("v", {"k": 1}, ("a.json", "b.png"))
    write(tmp_path, old, {"a.json": "old a", "b.png": b"old b"})
    before = snapshot(tmp_path)
    real = Path.write_bytes

    def fill_up(self, data):
        if self.name.startswith(".b.png"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", fill_up)
    with pytest.raises(WriteError, match="No space left on device"):
        write(tmp_path, Entry("v", {"k": 1}, ("a.json", "b.png")), {"a.json": "new a", "b.png": b"new b"})
    after = snapshot(tmp_path)
    assert {k: after[k] for k in ("a.json", "b.png")} == {k: before[k] for k in ("a.json", "b.png")}
    assert after == before  # the manifest too: the old results stay complete and trusted
    assert completed(tmp_path, "v") is not None


def test_an_interrupted_writer_leaves_an_incomplete_entry(tmp_path):
    with pytest.raises(RuntimeError):
        with RunFolder(tmp_path).session(Entry("t", {"e": 1}, ("m.json", "s.json")), overwrite=False) as session:
            session.write("m.json", "epoch 1")
            raise RuntimeError("killed")
    assert read_entries(tmp_path)["t"].complete is False and completed(tmp_path, "t") is None


def test_stale_temp_files_of_a_killed_writer_are_removed(tmp_path):
    (tmp_path / ".m.json.abc123.tmp").write_text("half")
    write(tmp_path, Entry("t", {}, ("m.json",)), {"m.json": "1"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", MANIFEST]


def test_undeclared_outputs_are_a_programming_error(tmp_path):
    with pytest.raises(ValueError, match="declared"):
        write(tmp_path, Entry("t", {}, ("m.json",)), {"other.json": "1"})
    with pytest.raises(ValueError, match="plain file name"):
        Entry("t", {}, ("../escape.json",))


def test_a_failed_session_leaves_no_folder_it_created(tmp_path):
    out = tmp_path / "new"
    with pytest.raises(RuntimeError):
        with RunFolder(out).session(Entry("t", {}, ("m.json",)), overwrite=False):
            raise RuntimeError("work failed before writing")
    assert not out.exists()
