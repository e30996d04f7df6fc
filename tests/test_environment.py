"""The pins: requirements.txt (pip) and environment.yml (conda) must agree."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pins(lines):
    out = {}
    for line in lines:
        line = line.split("#")[0].strip().lstrip("- ").strip()
        m = re.match(r"^([A-Za-z0-9_.\-]+)\s*(==\s*[^\s;]+)?", line)
        if m and m.group(1) not in ("pip", "python"):
            out[m.group(1).lower().replace("_", "-")] = (m.group(2) or "").replace(" ", "")
    return out


def test_requirements_pin_everything():
    req = _pins((ROOT / "requirements.txt").read_text().splitlines())
    assert req["torch"] == "==2.14.1" and req["torchvision"] == "==0.29.1"
    assert all(v.startswith("==") for v in req.values()), {k: v for k, v in req.items() if not v}


def test_environment_yml_matches_requirements():
    req = _pins((ROOT / "requirements.txt").read_text().splitlines())
    text = (ROOT / "environment.yml").read_text()
    assert "python=3.11" in text
    pip_section = text.split("- pip:", 1)[1].splitlines()
    env = _pins(pip_section)
    assert env == req
