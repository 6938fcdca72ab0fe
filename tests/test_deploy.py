"""The Community Cloud deploy (deploy/): its requirements name PyTorch's CPU index and the project's pins, torch's as
the CPU build; its entry point runs the dashboard. Nothing here installs from deploy/requirements.txt."""

from pathlib import Path
from urllib.parse import urlparse

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"


def lines(path: Path) -> list[str]:
    """A requirements file's lines, comments and blank lines left out."""
    return [s for line in path.read_text().splitlines() if (s := line.split("#", 1)[0].strip())]


def pins(path: Path) -> dict[str, str]:
    """name -> version of every `name==version` line."""
    found = {}
    for line in lines(path):
        if not line.startswith("-"):
            name, sep, version = line.partition("==")
            assert sep, f"{path.name}: not an exact pin: {line!r}"
            found[name.strip().lower()] = version.strip()
    return found


def test_the_deploy_requirements_name_pytorchs_cpu_index_once():
    options = [line for line in lines(DEPLOY / "requirements.txt") if line.startswith("-")]
    assert len(options) == 1, options  # no `-r ../requirements.txt`: torch is pinned once, as the CPU build
    flag, _, address = options[0].partition(" ")
    url = urlparse(address.strip())
    assert flag == "--extra-index-url"  # PyPI stays the main index for every other package
    assert url.scheme == "https" and url.hostname.endswith("pytorch.org") and url.path.rstrip("/") == "/whl/cpu"


def test_the_deploy_pins_are_the_projects_with_torchs_cpu_build():
    project, deploy = pins(ROOT / "requirements.txt"), pins(DEPLOY / "requirements.txt")
    assert deploy["torch"] == project["torch"] + "+cpu"
    assert {**deploy, "torch": project["torch"]} == project


def test_the_deploy_entry_point_runs_the_dashboard():
    assert (DEPLOY / "streamlit_app.py").is_file()
    at = AppTest.from_file(str(DEPLOY / "streamlit_app.py"), default_timeout=120)
    at.run()
    assert list(at.exception) == []
    assert any("output, h_n = rnn(x)" in header.value for header in at.subheader)
