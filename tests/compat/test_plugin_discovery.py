"""allennlp_lstmfact_compat.plugin_discovery: an installed allennlp-lstmfact is a plugin in every folder."""
import subprocess
import sys
from pathlib import Path

from allennlp.common import plugins

from allennlp_lstmfact_compat.plugin_discovery import PLUGIN

ALLENNLP = str(Path(sys.executable).parent / "allennlp")


def test_the_plugin_is_discovered_without_a_plugin_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(plugins, "GLOBAL_PLUGINS_FILENAME", str(tmp_path / "no_global_plugins"))
    assert list(plugins.discover_plugins()) == [PLUGIN]


def test_a_plugin_file_naming_it_too_gives_it_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(plugins, "GLOBAL_PLUGINS_FILENAME", str(tmp_path / "no_global_plugins"))
    (tmp_path / ".allennlp_plugins").write_text(f"json\n{PLUGIN}\n")
    assert list(plugins.discover_plugins()) == ["json", PLUGIN]


def test_allennlp_compress_from_another_folder(tmp_path):
    result = subprocess.run([ALLENNLP, "compress", "--help"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("usage: allennlp compress")
