"""Write every image output of a notebook to a folder as PNG/JPEG files, to look at them.

    python tools/nbfigs.py solutions/notebooks/01_features.ipynb /tmp/figs
"""
import base64
import json
import sys
from pathlib import Path

nb, out = Path(sys.argv[1]), Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
for i, cell in enumerate(json.loads(nb.read_text())["cells"]):
    for j, o in enumerate(cell.get("outputs", [])):
        for mime, ext in [("image/png", "png"), ("image/jpeg", "jpg")]:
            data = o.get("data", {}).get(mime)
            if data:
                p = out / f"{nb.stem}_cell{i:02d}_{j}.{ext}"
                p.write_bytes(base64.b64decode(data))
                print(p)
