"""Labelling helper: run the reference detector at full resolution with a low threshold
and write proposals (eval/proposals.json) plus annotated copies for visual checking."""
import json, os, sys, time
import numpy as np
from PIL import Image, ImageDraw
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, HERE)
import reference as R
cf = R.CenterFace()
out = {}
os.makedirs('/tmp/viz/prop', exist_ok=True)
names = sys.argv[1:] or sorted(os.listdir(os.path.join(HERE, 'eval/images')))
for n in names:
    img = R.load_rgb(os.path.join(HERE, 'eval/images', n))
    t = time.time()
    b, l = cf.detect(img, threshold=0.3)
    dt = time.time() - t
    out[n] = [[round(float(v), 1) for v in bb] for bb in b]
    im = Image.fromarray(img); d = ImageDraw.Draw(im)
    for k, bb in enumerate(b):
        col = 'lime' if bb[4] >= 0.5 else 'red'
        d.rectangle(bb[:4].tolist(), outline=col, width=max(1, img.shape[1] // 600))
        d.text((bb[0], bb[3] + 1), f'{k}:{bb[4]:.2f}', fill=col)
        for p in l[k]:
            d.ellipse([p[0]-1.5, p[1]-1.5, p[0]+1.5, p[1]+1.5], fill='yellow')
    im.save(f'/tmp/viz/prop/{n}.png')
    print(n, img.shape[1], 'x', img.shape[0], len(b), 'proposals', f'{dt:.1f}s', flush=True)
json.dump(out, open(os.path.join(HERE, 'eval/proposals.json'), 'w'), indent=0)
