#!/usr/bin/env node
// Runs one ONNX model in ONNX Runtime (CPU) for retort's agreement tests
// (tests/unit/support/onnxruntime_runner.h is the C++ side).
//
// Usage: node run_model.js MANIFEST.json
//
// MANIFEST.json:
//   {
//     "model": "/abs/model.onnx",
//     "inputs": [{"name": "input", "file": "/abs/input_0.bin", "dtype": "float32",
//                 "shape": [3, 1, 28, 28]}],
//     "output_dir": "/abs/dir",          // outputs are written here
//     "threads": 1,                      // optional, intra-op threads (1 or 2), default 1
//     "optimization": "all"              // optional: "disabled" | "basic" | "extended" | "all"
//   }
// Relative "file" and "output_dir" paths are resolved against the manifest's folder.
// Input files hold the tensor's elements as raw little-endian values of "dtype" (row-major).
//
// On success the script writes one file per graph output, output_<i>.bin (raw little-endian,
// row-major), and then OUTPUT_DIR/outputs.json:
//   {"outputs": [{"name": "logits", "file": "output_0.bin", "dtype": "float32",
//                 "shape": [3, 10]}]}
// in the order of the model's graph outputs, and exits 0. outputs.json is written last, so
// its presence means every output file is complete.
//
// On failure it prints one line to stderr, "run_model.js: <stage>: <ONNX Runtime's message>",
// and exits with 2 (bad usage or manifest), 3 (the model failed to load in ONNX Runtime) or
// 4 (the model failed to run).
'use strict';

const fs = require('fs');
const path = require('path');

const kDTypes = {
  float32: Float32Array,
  float64: Float64Array,
  int64: BigInt64Array,
  int32: Int32Array,
  int8: Int8Array,
  uint8: Uint8Array,
  bool: Uint8Array,
};

function fail(code, stage, err) {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`run_model.js: ${stage}: ${message.replace(/\s+$/, '')}\n`);
  process.exit(code);
}

function readManifest(file) {
  let manifest;
  try {
    manifest = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    fail(2, `cannot read manifest '${file}'`, err);
  }
  const base = path.dirname(path.resolve(file));
  if (typeof manifest.model !== 'string') fail(2, 'manifest', 'missing "model" (a path)');
  if (typeof manifest.output_dir !== 'string') fail(2, 'manifest', 'missing "output_dir"');
  if (!Array.isArray(manifest.inputs)) fail(2, 'manifest', 'missing "inputs" (a list)');
  manifest.model = path.resolve(base, manifest.model);
  manifest.output_dir = path.resolve(base, manifest.output_dir);
  for (const input of manifest.inputs) input.file = path.resolve(base, input.file);
  return manifest;
}

function loadInput(ort, input) {
  const Typed = kDTypes[input.dtype];
  if (!Typed) fail(2, `input '${input.name}'`, `unsupported dtype '${input.dtype}'`);
  if (!Array.isArray(input.shape)) fail(2, `input '${input.name}'`, 'missing "shape"');
  let bytes;
  try {
    bytes = fs.readFileSync(input.file);
  } catch (err) {
    fail(2, `input '${input.name}'`, err);
  }
  const count = input.shape.reduce((a, b) => a * b, 1);
  if (bytes.length !== count * Typed.BYTES_PER_ELEMENT) {
    fail(2, `input '${input.name}'`,
         `${input.file} has ${bytes.length} bytes, shape [${input.shape}] of ${input.dtype} ` +
             `needs ${count * Typed.BYTES_PER_ELEMENT}`);
  }
  // Copy into an aligned buffer of its own (a Buffer may share a pool at any offset).
  const data = new Typed(count);
  new Uint8Array(data.buffer).set(bytes);
  const values = input.dtype === 'bool' ? Array.from(data, (v) => v !== 0) : data;
  return new ort.Tensor(input.dtype, values, input.shape);
}

async function main() {
  if (process.argv.length !== 3) fail(2, 'usage', 'node run_model.js MANIFEST.json');
  const manifest = readManifest(process.argv[2]);

  let ort;
  try {
    ort = require('onnxruntime-node');
  } catch (err) {
    fail(2, 'cannot load onnxruntime-node (run scripts/setup.sh)', err);
  }

  const threads = manifest.threads === undefined ? 1 : manifest.threads;
  if (!Number.isInteger(threads) || threads < 1 || threads > 2) {
    fail(2, 'manifest', '"threads" must be 1 or 2');
  }
  const options = {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: manifest.optimization || 'all',
    logSeverityLevel: 3,  // errors only: warnings would clutter the caller's failure messages
  };

  let session;
  try {
    session = await ort.InferenceSession.create(manifest.model, options);
  } catch (err) {
    fail(3, `ONNX Runtime failed to load '${manifest.model}'`, err);
  }

  const feeds = {};
  for (const input of manifest.inputs) feeds[input.name] = loadInput(ort, input);

  let results;
  try {
    results = await session.run(feeds);
  } catch (err) {
    fail(4, `ONNX Runtime failed to run '${manifest.model}'`, err);
  }

  fs.mkdirSync(manifest.output_dir, {recursive: true});
  const outputs = [];
  session.outputNames.forEach((name, i) => {
    const tensor = results[name];
    if (!kDTypes[tensor.type]) fail(4, `output '${name}'`, `unsupported type '${tensor.type}'`);
    let data = tensor.data;
    if (tensor.type === 'bool') data = Uint8Array.from(data, (v) => (v ? 1 : 0));
    const file = `output_${i}.bin`;
    fs.writeFileSync(path.join(manifest.output_dir, file),
                     Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    outputs.push({name, file, dtype: tensor.type, shape: Array.from(tensor.dims)});
  });
  fs.writeFileSync(path.join(manifest.output_dir, 'outputs.json'),
                   JSON.stringify({outputs}) + '\n');
}

main().catch((err) => fail(4, 'unexpected error', err));
