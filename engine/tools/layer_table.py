"""Print the layer lists of both converted networks as markdown tables (for README.md)."""
import os, sys
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, HERE)
import reference as R
for f in ['centerface', 'dlib_resnet_v1']:
    t, g, m = R.load_model(os.path.join(HERE, 'models', f + '.safetensors'))
    print(f'\n#### {f}\n')
    print('| # | name | op | inputs -> output | kernel | stride | pads t,l,b,r | group | cin -> cout | act |')
    print('|---|---|---|---|---|---|---|---|---|---|')
    for i, l in enumerate(g['layers']):
        k = 'x'.join(map(str, l.get('kernel', []))) or '-'
        s = 'x'.join(map(str, l.get('stride', []))) or '-'
        p = ','.join(map(str, l.get('pads', []))) or '-'
        c = f"{l['cin']} -> {l['cout']}" if 'cin' in l else '-'
        print(f"| {i} | {l['name']} | {l['op']} | {', '.join(l['inputs'])} -> {l['output']} | {k} | {s} | {p} | "
              f"{l.get('group', '-')} | {c} | {l.get('activation', 'none')} |")
