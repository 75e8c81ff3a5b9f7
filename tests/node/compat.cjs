// Drives a running picops with a Node.js SDK and prints one JSON object describing what the
// SDK got back; tests/e2e/test_node.py checks it and decodes the stored objects with Pillow.
//
//   node compat.cjs cos|cos-app|aws   (env: PICOPS_ENDPOINT, PICOPS_KEY, PICOPS_SECRET, PICOPS_BUCKET,
//                              PICOPS_IMAGE, PICOPS_PREFIX)
'use strict';
const fs = require('fs');
const http = require('http');

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const endpoint = env('PICOPS_ENDPOINT');
const Bucket = env('PICOPS_BUCKET');
const image = fs.readFileSync(env('PICOPS_IMAGE'));
const prefix = env('PICOPS_PREFIX');
const rules = (...pairs) => JSON.stringify({ is_pic_info: 1, rules: pairs.map(([fileid, rule]) => ({ fileid, rule })) });

// A plain HTTP request (for pre-signed URLs), optionally through picops as HTTP proxy.
function raw(method, url, body, viaProxy) {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const proxy = new URL(endpoint);
    const opts = viaProxy
      ? { host: proxy.hostname, port: proxy.port, path: url, method, headers: { Host: target.host } }
      : { host: target.hostname, port: target.port, path: target.pathname + target.search, method };
    if (body) opts.headers = { ...(opts.headers || {}), 'Content-Length': body.length };
    const req = http.request(opts, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

async function cos() {
  const COS = require('cos-nodejs-sdk-v5');
  // cos-nodejs-sdk-v5 has no path style; as a sidecar app would, it keeps the COS host and
  // uses picops as its HTTP proxy (docs/protocol.md, Addressing).
  const cos = new COS({
    SecretId: env('PICOPS_KEY'), SecretKey: env('PICOPS_SECRET'), Protocol: 'http:', Proxy: endpoint,
  });
  const Region = 'ap-guangzhou';
  const call = (name, params) => new Promise((resolve, reject) =>
    cos[name]({ Bucket, Region, ...params }, (err, data) => (err ? reject(err) : resolve(data))));
  const out = {};
  const key = `${prefix}/a.jpg`;
  const put = await call('putObject', {
    Key: key, Body: image,
    Headers: { 'Pic-Operations': rules(['t1000.jpg', 'imageMogr2/thumbnail/1000x'], ['t.webp', 'imageMogr2/thumbnail/400x/format/webp']) },
  });
  out.put = { status: put.statusCode, upload: put.UploadResult };

  const processed = await call('request', {
    Method: 'POST', Key: key, Action: 'image_process',
    Headers: { 'Pic-Operations': rules(['p300.png', 'imageView2/1/w/300/h/300/format/png']) },
  });
  out.image_process = { status: processed.statusCode, upload: processed.UploadResult };

  const mkey = `${prefix}/multi.jpg`;
  const init = await call('multipartInit', { Key: mkey });
  const part = await call('multipartUpload', { Key: mkey, UploadId: init.UploadId, PartNumber: 1, Body: image });
  const done = await call('multipartComplete', {
    Key: mkey, UploadId: init.UploadId, Parts: [{ PartNumber: 1, ETag: part.ETag }],
    Headers: { 'Pic-Operations': rules(['m200.jpg', 'imageMogr2/thumbnail/200x']) },
  });
  out.multipart = { status: done.statusCode, result: done.ProcessResults || done.UploadResult || null, location: done.Location };

  const got = await call('getObject', { Key: key });
  out.get = { status: got.statusCode, length: got.Body.length, etag: got.ETag };
  const list = await call('getBucket', { Prefix: `${prefix}/` });
  out.list = list.Contents.map((c) => c.Key).sort();

  const getUrl = await new Promise((resolve, reject) =>
    cos.getObjectUrl({ Bucket, Region, Key: key, Sign: true, Expires: 300 }, (e, d) => (e ? reject(e) : resolve(d.Url))));
  const g = await raw('GET', getUrl, null, true);
  out.presigned_get = { status: g.status, length: g.body.length };
  const putUrl = await new Promise((resolve, reject) =>
    cos.getObjectUrl({ Bucket, Region, Key: `${prefix}/presigned.txt`, Method: 'PUT', Sign: true, Expires: 300 },
      (e, d) => (e ? reject(e) : resolve(d.Url))));
  const p = await raw('PUT', putUrl, Buffer.from('node cos presigned'), true);
  out.presigned_put = { status: p.status };

  await call('deleteObject', { Key: `${prefix}/presigned.txt` });
  out.deleted = `${prefix}/presigned.txt`;
  return out;
}

// What a COS application does besides images: metadata, copies, 1 MB-part uploads, errors.
async function cosApp() {
  const COS = require('cos-nodejs-sdk-v5');
  const os = require('os');
  const path = require('path');
  const cos = new COS({
    SecretId: env('PICOPS_KEY'), SecretKey: env('PICOPS_SECRET'), Protocol: 'http:', Proxy: endpoint,
  });
  const Region = 'ap-guangzhou';
  const call = (name, params) => new Promise((resolve, reject) =>
    cos[name]({ Bucket, Region, ...params }, (err, data) => (err ? reject(err) : resolve(data))));
  const fail = (name, params) => call(name, params).then(
    () => ({ status: 200 }),
    (e) => ({ status: e.statusCode, code: e.code || (e.error && e.error.Code), requestId: e.RequestId || (e.headers && e.headers['x-cos-request-id']) }));
  const out = {};
  const key = `${prefix}/meta.txt`;
  await call('putObject', { Key: key, Body: Buffer.from('hello node'), Headers: { 'x-cos-meta-origin': 'node', 'Cache-Control': 'max-age=60' } });
  const head = await call('headObject', { Key: key });
  out.head = { meta: head.headers['x-cos-meta-origin'], cacheControl: head.headers['cache-control'],
    amz: Object.keys(head.headers).filter((h) => h.startsWith('x-amz-')) };

  const copyKey = `${prefix}/copy.txt`;
  await call('putObjectCopy', { Key: copyKey, CopySource: `${Bucket}.cos.${Region}.myqcloud.com/${key}` });
  const copied = await call('getObject', { Key: copyKey });
  out.copy = { body: copied.Body.toString(), meta: copied.headers['x-cos-meta-origin'] };

  // sliceUploadFile with 1 MB parts (COS's minimum and its SDKs' default) of a 3 MB file.
  const file = path.join(os.tmpdir(), `picops-node-${process.pid}.bin`);
  const data = Buffer.alloc(3 * 1024 * 1024 + 123);
  for (let i = 0; i < data.length; i += 1) data[i] = (i * 7919) % 251;
  fs.writeFileSync(file, data);
  const big = `${prefix}/big.bin`;
  await call('sliceUploadFile', { Key: big, FilePath: file, ChunkSize: 1024 * 1024 });
  fs.unlinkSync(file);
  const back = await call('getObject', { Key: big });
  out.slice = { length: back.Body.length, same: Buffer.compare(back.Body, data) === 0 };

  out.missing = await fail('headObject', { Key: `${prefix}/nope.txt` });
  out.missingGet = await fail('getObject', { Key: `${prefix}/nope.txt` });
  const loc = await call('getBucketLocation', {});
  out.location = loc.LocationConstraint;
  const listed = await call('getBucket', { Prefix: `${prefix}/` });
  out.list = listed.Contents.map((c) => ({ key: c.Key, etag: c.ETag })).sort((a, b) => a.key.localeCompare(b.key));
  return out;
}

async function aws() {
  const s3sdk = require('@aws-sdk/client-s3');
  const { getSignedUrl } = require('@aws-sdk/s3-request-presigner');
  const client = new s3sdk.S3Client({
    endpoint, region: 'us-east-1', forcePathStyle: true,
    credentials: { accessKeyId: env('PICOPS_KEY'), secretAccessKey: env('PICOPS_SECRET') },
  });
  // Pic-Operations is added before signing, so the signature covers it (picops insists).
  const withPicOps = (cmd, value) => {
    cmd.middlewareStack.add((next) => (args) => {
      args.request.headers['pic-operations'] = value;
      return next(args);
    }, { step: 'build', name: 'picOperations' });
    return cmd;
  };
  const out = {};
  const key = `${prefix}/a.jpg`;
  const put = await client.send(withPicOps(new s3sdk.PutObjectCommand({ Bucket, Key: key, Body: image }),
    rules(['t1000.jpg', 'imageMogr2/thumbnail/1000x'], ['sq.jpg', 'imageView2/1/w/300/h/300'])));
  out.put = { status: put.$metadata.httpStatusCode, etag: put.ETag };

  const mkey = `${prefix}/multi.jpg`;
  const init = await client.send(new s3sdk.CreateMultipartUploadCommand({ Bucket, Key: mkey }));
  const part = await client.send(new s3sdk.UploadPartCommand({ Bucket, Key: mkey, UploadId: init.UploadId, PartNumber: 1, Body: image }));
  const done = await client.send(withPicOps(new s3sdk.CompleteMultipartUploadCommand({
    Bucket, Key: mkey, UploadId: init.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
  }), rules(['m200.jpg', 'imageMogr2/thumbnail/200x'])));
  out.multipart = { status: done.$metadata.httpStatusCode, etag: done.ETag };

  const got = await client.send(new s3sdk.GetObjectCommand({ Bucket, Key: key }));
  out.get = { status: got.$metadata.httpStatusCode, length: (await got.Body.transformToByteArray()).length, etag: got.ETag };
  const list = await client.send(new s3sdk.ListObjectsV2Command({ Bucket, Prefix: `${prefix}/` }));
  out.list = list.Contents.map((c) => c.Key).sort();

  const getUrl = await getSignedUrl(client, new s3sdk.GetObjectCommand({ Bucket, Key: key }), { expiresIn: 300 });
  const g = await raw('GET', getUrl, null, false);
  out.presigned_get = { status: g.status, length: g.body.length };
  const putUrl = await getSignedUrl(client, new s3sdk.PutObjectCommand({ Bucket, Key: `${prefix}/presigned.txt` }), { expiresIn: 300 });
  const p = await raw('PUT', putUrl, Buffer.from('node aws presigned'), false);
  out.presigned_put = { status: p.status, body: p.body.toString() };

  const copy = `${prefix}/presigned.txt`;
  const head = await client.send(new s3sdk.HeadObjectCommand({ Bucket, Key: copy }));
  out.presigned_put.length = head.ContentLength;
  await client.send(new s3sdk.DeleteObjectCommand({ Bucket, Key: copy }));
  out.deleted = copy;
  return out;
}

const which = process.argv[2];
const modes = { cos, 'cos-app': cosApp, aws };
(modes[which] ? modes[which]() : Promise.reject(new Error('usage: compat.cjs cos|cos-app|aws')))
  .then((out) => { process.stdout.write(JSON.stringify(out)); })
  .catch((e) => {
    process.stderr.write(`${e && e.stack ? e.stack : JSON.stringify(e)}\n`);
    process.exit(1);
  });
