"""Write a contact sheet of aligned 150x150 chips for visual checking."""
import os, sys
import numpy as np
from PIL import Image
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, HERE)
import reference as R
cf = R.CenterFace()
chips = []
for n in sys.argv[2:]:
    img = R.load_rgb(os.path.join(HERE, 'eval/images', n))
    b, l = cf.detect(img, max_side=2048)
    for k in range(len(b)):
        chips.append(R.align_chip(img, l[k]))
cols = 10
rows = -(-len(chips) // cols)
sheet = np.full((rows * 152, cols * 152, 3), 255, np.uint8)
ref = R.chip_reference_points()
for i, c in enumerate(chips):
    c = np.clip(c, 0, 255).astype(np.uint8).copy()
    for x, y in ref:
        c[int(round(y)), max(0, int(round(x)) - 1):int(round(x)) + 2] = (255, 0, 0)
    sheet[(i // cols) * 152:(i // cols) * 152 + 150, (i % cols) * 152:(i % cols) * 152 + 150] = c
Image.fromarray(sheet).save(sys.argv[1])
print(len(chips))
