#!/usr/bin/env python3
"""Evaluate the NumPy reference engine on the labelled registry photos.

    python3 fetch_models.py && python3 fetch_eval.py && python3 evaluate.py [--sizes]

Prints the detection table (recall, precision, Solvay count, landmark check, time), the
verification table (TPR/FPR at the API threshold, ROC summary) and the pair listing.
--sizes adds an informational sweep of the detector's input size on every group photo.
Writes eval/results.json (descriptor distances per pair, detections per image).
"""

import itertools
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import reference as R  # noqa: E402

IOU_MATCH = 0.4
DET_THRESHOLD = 0.5
MAX_SIDE = 2048  # detection runs at full resolution up to this longer side (see README)


def iou(a, b):
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    ua = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / ua if ua > 0 else 0.0


def match(gt, det):
    """Greedy matching by IoU (highest first). Returns list of (gt_index, det_index)."""
    cand = sorted(((iou(g['box'], d[:4]), gi, di) for gi, g in enumerate(gt) for di, d in enumerate(det)),
                  reverse=True)
    used_g, used_d, pairs = set(), set(), []
    for v, gi, di in cand:
        if v < IOU_MATCH:
            break
        if gi in used_g or di in used_d:
            continue
        used_g.add(gi)
        used_d.add(di)
        pairs.append((gi, di))
    return pairs


def roc_summary(gen, imp):
    gen, imp = np.sort(np.asarray(gen)), np.sort(np.asarray(imp))
    ths = np.unique(np.concatenate([gen, imp, [np.inf]]))
    tpr = np.array([(gen < t).mean() if len(gen) else np.nan for t in ths])  # accept if d < t
    fpr = np.array([(imp < t).mean() if len(imp) else np.nan for t in ths])
    ok = fpr <= 0.01
    tpr_at_1 = float(tpr[ok].max()) if ok.any() else 0.0
    i = int(np.argmin(np.abs((1 - tpr) - fpr)))
    eer = float(((1 - tpr[i]) + fpr[i]) / 2)
    auc = float(np.mean([(g < imp).mean() + 0.5 * (g == imp).mean() for g in gen])) if len(gen) else np.nan
    return tpr_at_1, eer, auc


def main():
    sizes = '--sizes' in sys.argv
    labels = json.load(open(os.path.join(HERE, 'eval', 'labels.json')))
    cf, ds = R.CenterFace(), R.Descriptor()
    results = {'detections': {}, 'faces': []}
    rows = []
    times = []
    lm_total = lm_inside = 0
    for name, info in labels['images'].items():
        img = R.load_rgb(os.path.join(HERE, 'eval', 'images', name))
        t = time.time()
        det, lms = cf.detect(img, max_side=MAX_SIDE, threshold=DET_THRESHOLD)
        dt = time.time() - t
        times.append((dt, img.shape[1] * img.shape[0]))
        gt = info['faces']
        pairs = match(gt, det)
        ign = {gi for gi, g in enumerate(gt) if g.get('ignore')}
        matched_g = {gi for gi, _ in pairs}
        matched_d = {di for gi, di in pairs}
        ign_d = {di for gi, di in pairs if gi in ign}
        tp = len(matched_g - ign)
        fn = len([gi for gi in range(len(gt)) if gi not in matched_g and gi not in ign])
        fp = len([di for di in range(len(det)) if di not in matched_d])
        rows.append((name, info['split'], info['kind'], len(gt) - len(ign), tp, fn, fp, dt, img.shape[1], img.shape[0]))
        for b, l in zip(det, lms):
            lm_total += 1
            lm_inside += bool(np.all((l[:, 0] >= b[0]) & (l[:, 0] <= b[2]) & (l[:, 1] >= b[1]) & (l[:, 1] <= b[3])))
        results['detections'][name] = [[round(float(v), 2) for v in b] + [round(float(v), 2) for v in l.reshape(-1)]
                                       for b, l in zip(det, lms)]
        # descriptors for every matched labelled face that has an identity
        for gi, di in pairs:
            g = gt[gi]
            if 'id' not in g or g.get('ignore') or 'same_photo_as' in info:
                continue  # derived copies (crops, re-encodes) are left out of verification
            chip = R.align_chip(img, lms[di])
            e = ds(chip)
            results['faces'].append({'image': name, 'gt': gi, 'id': g['id'], 'scope': g.get('id_scope', 'global'),
                                     'split': info['split'], 'face_px': float(det[di][2] - det[di][0]),
                                     'same_photo_as': info.get('same_photo_as', name), 'desc': e.tolist()})
        print(f'{name}: {tp}/{len(gt) - len(ign)} found, {fp} false, {dt:.2f}s', flush=True)

    # ---------------------------------------------------------------- detection table
    def agg(sel):
        g = sum(r[3] for r in sel)
        tp = sum(r[4] for r in sel)
        fp = sum(r[6] for r in sel)
        return g, tp, fp, tp / g if g else float('nan'), tp / (tp + fp) if tp + fp else float('nan')

    print('\n## Detection (CenterFace, NumPy reference, threshold %.2f, IoU >= %.1f, full resolution up to %d px)'
          % (DET_THRESHOLD, IOU_MATCH, MAX_SIDE))
    print('| set | faces | found | false | recall | precision |')
    print('|---|---|---|---|---|---|')
    for label, sel in [('group photos, held out', [r for r in rows if r[2] == 'group' and r[1] == 'heldout']),
                       ('group photos, dev', [r for r in rows if r[2] == 'group' and r[1] == 'dev']),
                       ('group photos, all', [r for r in rows if r[2] == 'group']),
                       ('portraits, all', [r for r in rows if r[2] == 'portrait']),
                       ('everything, held out', [r for r in rows if r[1] == 'heldout']),
                       ('everything', rows)]:
        g, tp, fp, rec, prec = agg(sel)
        print(f'| {label} | {g} | {tp} | {fp} | {rec:.1%} | {prec:.1%} |')
    sv = [r for r in rows if r[0] == 'solvay1927.png'][0]
    print(f'\nSolvay 1927 (1666x1136, held out): {sv[4]} of {sv[3]} faces, {sv[6]} false')
    print(f'Landmarks inside their box: {lm_inside} of {lm_total} detections')
    med = np.median([t for t, _ in times])
    mp = np.array([p for _, p in times]) / 1e6
    per_mp = np.median(np.array([t for t, _ in times]) / mp)
    print(f'NumPy detect time: median {med:.2f}s per photo (median {per_mp:.2f}s per megapixel, '
          f'1 process, {os.environ.get("OMP_NUM_THREADS", "default")} BLAS threads)')

    # ---------------------------------------------------------------- verification
    faces = results['faces']
    gen, imp, gen_pairs, imp_pairs = [], [], [], []
    for a, b in itertools.combinations(range(len(faces)), 2):
        fa, fb = faces[a], faces[b]
        if fa['image'] == fb['image'] and fa['id'] == fb['id']:
            continue
        ea, eb = np.array(fa['desc']), np.array(fb['desc'])
        d = float(np.linalg.norm(ea - eb))
        if fa['id'] == fb['id']:
            if fa['same_photo_as'] == fb['same_photo_as'] or fa['image'] == fb['same_photo_as'] \
                    or fb['image'] == fa['same_photo_as']:
                continue  # crops / re-encodes of one photo are not genuine pairs
            gen.append(d)
            gen_pairs.append((fa['image'], fb['image'], fa['id'], d))
        else:
            if fa['scope'] == 'photo' and fb['scope'] == 'photo' and fa['image'] != fb['image']:
                continue  # identities unknown across the face-api demo photos
            imp.append(d)
            imp_pairs.append((d, fa['image'], fa['id'], fa['face_px'], fb['image'], fb['id'], fb['face_px']))
    gen, imp = np.array(gen), np.array(imp)
    sim_g, sim_i = R.similarity_from_distance(gen), R.similarity_from_distance(imp)
    thr = R.API_THRESHOLD
    print(f'\n## Verification (dlib ResNet v1 on 150 px chips aligned from the CenterFace points)')
    print(f'{len(faces)} labelled faces with descriptors; {len(gen)} genuine pairs, {len(imp)} impostor pairs')
    print('| | pairs | distance mean ± sd | min..max | similarity mean | accepted at similarity >= %.2f |' % thr)
    print('|---|---|---|---|---|---|')
    for lab, d, s in [('genuine', gen, sim_g), ('impostor', imp, sim_i)]:
        if len(d):
            print(f'| {lab} | {len(d)} | {d.mean():.3f} ± {d.std():.3f} | {d.min():.3f}..{d.max():.3f} | '
                  f'{s.mean():.3f} | {(s >= thr).sum()} ({(s >= thr).mean():.1%}) |')
    tpr1, eer, auc = roc_summary(gen, imp)
    print(f'TPR at threshold: {(sim_g >= thr).mean():.1%}, FPR at threshold: {(sim_i >= thr).mean():.2%}; '
          f'TPR at FPR <= 1%: {tpr1:.1%}; EER {eer:.1%}; AUC {auc:.4f}')
    big = [f for f in faces if f['face_px'] >= 80]
    print(f'(faces >= 80 px wide: {len(big)}; smaller ones are mostly the Solvay faces, 39-53 px)')
    print('\nGenuine pairs:')
    for a, b, i, d in gen_pairs:
        print(f'  {i}: {a} vs {b}: distance {d:.3f}, similarity {R.similarity_from_distance(d):.3f}')
    print('Closest impostor pairs:')
    for d, ia, a, pa, ib, b, pb in sorted(imp_pairs)[:12]:
        print(f'  {d:.3f} (similarity {R.similarity_from_distance(d):.3f}): {ia} {a} ({pa:.0f} px) vs {ib} {b} ({pb:.0f} px)')
    # faces below ~60 px (the Solvay faces, 39-53 px) give collapsed descriptors: report the
    # verification again with both faces >= MIN_FACE_PX wide (see README, open problems)
    MIN_FACE_PX = 60
    g2 = np.array([d for a, b, i, d in gen_pairs
                   if min(f['face_px'] for f in faces if f['image'] in (a, b) and f['id'] == i) >= MIN_FACE_PX])
    k2 = [p for p in imp_pairs if p[3] >= MIN_FACE_PX and p[6] >= MIN_FACE_PX]
    i2 = np.array([p[0] for p in k2])
    sg2, si2 = R.similarity_from_distance(g2), R.similarity_from_distance(i2)
    tpr1b, eerb, aucb = roc_summary(g2, i2)
    print(f'\nOnly faces >= {MIN_FACE_PX} px wide: {len(g2)} genuine pairs (distance {g2.min():.3f}..{g2.max():.3f}), '
          f'{len(i2)} impostor pairs (distance {i2.min():.3f}..{i2.max():.3f}, mean {i2.mean():.3f})')
    print(f'TPR at threshold: {(sg2 >= thr).mean():.1%}, FPR at threshold: {(si2 >= thr).mean():.2%} '
          f'({(si2 >= thr).sum()} pairs); TPR at FPR <= 1%: {tpr1b:.1%}; EER {eerb:.1%}; AUC {aucb:.4f}')
    for d, ia, a, pa, ib, b, pb in sorted(k2)[:3]:
        print(f'  closest: {d:.3f} (similarity {R.similarity_from_distance(d):.3f}): {ia} {a} ({pa:.0f} px) vs {ib} {b} ({pb:.0f} px)')

    json.dump({'detections': results['detections'],
               'genuine': [list(p) for p in gen_pairs], 'impostor_distances': sorted(float(x) for x in imp)},
              open(os.path.join(HERE, 'eval', 'results.json'), 'w'))

    if sizes:
        print('\n## Input size sweep (informational; chosen policy above is full resolution)')
        print('| longer side | ' + ' | '.join(n for n, i in labels['images'].items() if i['kind'] == 'group') + ' | total |')
        for ms in [640, 800, 1024, 1280, 1600, None]:
            cells, tot, tot_g = [], 0, 0
            for n, info in labels['images'].items():
                if info['kind'] != 'group':
                    continue
                img = R.load_rgb(os.path.join(HERE, 'eval', 'images', n))
                det, _ = cf.detect(img, max_side=ms, threshold=DET_THRESHOLD)
                tp = len(match(info['faces'], det))
                cells.append(f'{tp}/{len(info["faces"])}+{len(det) - tp}')
                tot += tp
                tot_g += len(info['faces'])
            print(f'| {ms or "full"} | ' + ' | '.join(cells) + f' | {tot}/{tot_g} |', flush=True)


if __name__ == '__main__':
    main()
