// A tiny static server for the page, as any static host would serve it:
//   /            -> www/ (with www/pkg, the built package)
//   /model/X     -> model/build/X, or model/manifests/X for the manifests
//   POST /predict-> 503 {error} unless a handler is given (tests pass a fake)
// Everything is sent with `Cache-Control: no-cache`, except with
// `workerCaching`: /model/ files then as the Worker sends its model file
// (worker/src/model_file.rs: a day's max-age, the sha256 as ETag, 304 on
// If-None-Match), manifests included, which is the worst a host may do.
// Usage: node scripts/serve-web.mjs [port]   (prints the URL)
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css',
  '.json': 'application/json', '.wasm': 'application/wasm', '.onnx': 'application/octet-stream',
  '.png': 'image/png', '.jpg': 'image/jpeg', '.svg': 'image/svg+xml', '.ts': 'text/plain',
};

function candidates(path, dirs, mounts) {
  for (const [prefix, dir] of Object.entries(mounts)) {
    if (path.startsWith(prefix)) return [join(dir, path.slice(prefix.length))];
  }
  if (path.startsWith('/model/')) {
    const name = path.slice('/model/'.length);
    return [join(ROOT, 'model/build', name), join(ROOT, 'model/manifests', name)];
  }
  return dirs.map((d) => join(d, path.endsWith('/') ? path + 'index.html' : path));
}

/** Starts the server; resolves to { url, close() }. `dirs`: static roots; `mounts`: { '/prefix/': dir }. */
export async function serve({ port = 0, dirs = [join(ROOT, 'www')], mounts = {}, predict = null, log = false, workerCaching = false } = {}) {
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
    if (log) console.log(req.method, path);
    if (path === '/predict' && req.method === 'POST') {
      if (predict) return predict(req, res);
      res.writeHead(503, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ error: { code: 'no_server', message: 'this static host has no /predict; serve the page from the Worker' } }));
    }
    if (path.includes('..')) return res.writeHead(400).end();
    for (const file of candidates(path, dirs, mounts)) {
      try {
        if (!(await stat(file)).isFile()) continue;
        const body = await readFile(file);
        const headers = { 'content-type': TYPES[extname(file)] || 'application/octet-stream', 'cache-control': 'no-cache' };
        if (workerCaching && path.startsWith('/model/')) {
          headers['cache-control'] = 'public, max-age=86400';
          headers.etag = `"${createHash('sha256').update(body).digest('hex')}"`;
          if ((req.headers['if-none-match'] || '').split(',').some((t) => t.trim().replace(/^W\//, '') === headers.etag)) {
            return res.writeHead(304, headers).end();
          }
        }
        res.writeHead(200, { ...headers, 'content-length': body.length });
        return res.end(req.method === 'HEAD' ? undefined : body);
      } catch {}
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  });
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}/`, close: () => new Promise((r) => server.close(r)), server };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { url } = await serve({ port: Number(process.argv[2] || 8080), log: true });
  console.log(`serving www/ and model/ at ${url}`);
}
