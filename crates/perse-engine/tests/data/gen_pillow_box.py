# Generates crates/perse-engine/tests/data/pillow_box.json (run with engine/.venv/bin/python).
import json, numpy as np
from PIL import Image
rng = np.random.default_rng(18)
img = rng.integers(0, 256, size=(23, 37, 3), dtype=np.uint8)
img[5:12, 8:20] = 255  # a bright block so the rounding matters at edges
outs = []
for nw, nh in [(16, 9), (29, 17), (37, 11), (12, 23), (5, 3), (36, 22)]:
    r = np.asarray(Image.fromarray(img).resize((nw, nh), Image.BOX))
    outs.append({'w': nw, 'h': nh, 'rgb': r.reshape(-1).tolist()})
json.dump({'generator': 'Pillow ' + Image.__version__ + ' Image.resize(size, Image.BOX) on a seeded random 37x23 RGB image',
           'w': 37, 'h': 23, 'rgb': img.reshape(-1).tolist(), 'outputs': outs},
          open('crates/perse-engine/tests/data/pillow_box.json', 'w'), separators=(',', ':'))
