// ali-oss 6.23.0 against openice's OSS API: put (buffer, Content-MD5), get, range, head,
// list, multipart upload (parallel parts), copy, deleteMulti, delete. Exits non-zero with a
// message on the first mismatch. Usage:
//   node oss_smoke.js ENDPOINT BUCKET AK SECRET [STS_TOKEN] [v4] [ONLY_KEY]
// With ONLY_KEY (an upload credential's one object) only that key is written and read.
'use strict';
const OSS = require('ali-oss');
const crypto = require('crypto');
const assert = require('assert');

async function main() {
  const [endpoint, bucket, accessKeyId, accessKeySecret, stsToken, version, onlyKey] = process.argv.slice(2);
  const client = new OSS({
    endpoint,
    bucket,
    accessKeyId,
    accessKeySecret,
    stsToken: stsToken || undefined,
    region: 'oss-cn-shanghai',
    authorizationV4: version === 'v4',
    timeout: 30000,
  });
  const data = crypto.randomBytes(300 * 1024);
  const md5 = (b) => crypto.createHash('md5').update(b).digest('hex').toUpperCase();

  if (onlyKey) {
    const put = await client.multipartUpload(onlyKey, data, { partSize: 100 * 1024, parallel: 3 });
    assert.strictEqual(put.res.status, 200);
    const got = await client.get(onlyKey);
    assert.ok(Buffer.compare(got.content, data) === 0, 'multipart content differs');
    await assert.rejects(client.put('not/mine.txt', Buffer.from('x')), (e) => e.code === 'AccessDenied');
    return;
  }

  const small = Buffer.from('hello from ali-oss');
  const put = await client.put('js/dir/hello world.txt', small);
  assert.strictEqual(put.res.status, 200);
  assert.strictEqual(put.res.headers.etag, `"${md5(small)}"`);
  const got = await client.get('js/dir/hello world.txt');
  assert.strictEqual(got.content.toString(), small.toString());
  const range = await client.get('js/dir/hello world.txt', { headers: { Range: 'bytes=0-4' } });
  assert.strictEqual(range.res.status, 206);
  assert.strictEqual(range.content.toString(), 'hello');
  const head = await client.head('js/dir/hello world.txt');
  assert.strictEqual(Number(head.res.headers['content-length']), small.length);

  const mp = await client.multipartUpload('js/big.bin', data, { partSize: 100 * 1024, parallel: 3 });
  assert.strictEqual(mp.res.status, 200);
  const big = await client.get('js/big.bin');
  assert.ok(Buffer.compare(big.content, data) === 0, 'multipart content differs');

  await client.copy('js/copy.txt', 'js/dir/hello world.txt');
  const list = await client.list({ prefix: 'js/', 'max-keys': 100 });
  const names = list.objects.map((o) => o.name).sort();
  assert.deepStrictEqual(names, ['js/big.bin', 'js/copy.txt', 'js/dir/hello world.txt']);
  const v2 = await client.listV2({ prefix: 'js/', delimiter: '/' });
  assert.deepStrictEqual(v2.prefixes, ['js/dir/']);

  const del = await client.deleteMulti(['js/big.bin', 'js/copy.txt'], { quiet: false });
  assert.strictEqual(del.deleted.length, 2);
  await client.delete('js/dir/hello world.txt');
  await assert.rejects(client.get('js/dir/hello world.txt'), (e) => e.code === 'NoSuchKey');
  const empty = await client.list({ prefix: 'js/' });
  assert.ok(!empty.objects || empty.objects.length === 0);
}

main().then(
  () => console.log('ok'),
  (e) => {
    console.error(e && (e.stack || e));
    process.exit(1);
  },
);
