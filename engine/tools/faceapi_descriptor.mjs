// Runs @vladmandic/face-api's own FaceRecognitionNet (TF.js 'cpu' backend, pure JS) on raw 150x150x3 float32 chips and prints the descriptors as JSON.
// usage: node faceapi_descriptor.mjs PACKAGE_DIR chip1.f32 [chip2.f32 ...]
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';



const [pkg, ...chips] = process.argv.slice(2);
// face-api's CommonJS build for Node that uses the pure-JS/WASM TF.js packages (no native
// tfjs-node); @tensorflow/tfjs and @tensorflow/tfjs-backend-wasm must resolve from PACKAGE_DIR
const faceapi = createRequire(import.meta.url)(path.join(path.resolve(pkg), 'dist/face-api.node-wasm.js'));
const tf = faceapi.tf;
await tf.setBackend('cpu');
await tf.ready();
const manifest = JSON.parse(fs.readFileSync(path.join(pkg, 'model/face_recognition_model-weights_manifest.json')));
const bin = fs.readFileSync(path.join(pkg, 'model/face_recognition_model.bin'));
const ab = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength);
const weightMap = tf.io.decodeWeights(ab, manifest[0].weights);
const net = new faceapi.FaceRecognitionNet();
net.loadFromWeightMap(weightMap);
const out = [];
for (const c of chips) {
  const b = fs.readFileSync(c);
  const data = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  const t = tf.tensor3d(data, [150, 150, 3]);
  const d = await net.computeFaceDescriptor(t);
  out.push(Array.from(d));
  t.dispose();
}
console.log(JSON.stringify({ backend: tf.getBackend(), tfjs: tf.version_core, descriptors: out }));
