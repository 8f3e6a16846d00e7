import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import https from 'node:https';
import { HttpServer, contentTypeFor } from '../../src/signaling/http-server.ts';
import { testCert } from './helpers/tls.ts';

let root: string;
let publicDir: string;
let server: HttpServer;
let port: number;

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'sip-http-'));
  publicDir = path.join(root, 'public');
  fs.mkdirSync(path.join(publicDir, 'softphone'), { recursive: true });
  fs.writeFileSync(path.join(publicDir, 'index.html'), '<!doctype html><title>gw</title>');
  fs.writeFileSync(path.join(publicDir, 'softphone', 'app.js'), 'export const x = 1;\n');
  fs.writeFileSync(path.join(publicDir, 'softphone', 'index.html'), '<p>phone</p>');
  fs.writeFileSync(path.join(publicDir, 'style.css'), 'body{}');
  fs.writeFileSync(path.join(publicDir, 'blob.bin'), Buffer.from([0, 1, 2]));
  fs.writeFileSync(path.join(publicDir, '.env'), 'SECRET=1');
  fs.writeFileSync(path.join(root, 'secret.txt'), 'outside');
  fs.symlinkSync(path.join(root, 'secret.txt'), path.join(publicDir, 'link.txt'));
  server = new HttpServer({ host: '127.0.0.1', port: 0, publicDir, maxPayload: 4096 }, () => {});
  port = (await server.listen()).port;
});

afterAll(async () => {
  await server.close();
  fs.rmSync(root, { recursive: true, force: true });
});

async function get(url: string, method = 'GET') {
  const res = await fetch(`http://127.0.0.1:${port}${url}`, { method });
  return { status: res.status, type: res.headers.get('content-type'), body: await res.text(), headers: res.headers };
}

/** A request line sent verbatim (fetch normalizes `..` away before it leaves). */
async function rawGet(target: string): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  socket.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  const chunks: Buffer[] = [];
  for await (const chunk of socket) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

describe('HttpServer static files', () => {
  it('serves files from public/ with their content type', async () => {
    const index = await get('/');
    expect(index).toMatchObject({ status: 200, type: 'text/html; charset=utf-8', body: '<!doctype html><title>gw</title>' });
    expect(index.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await get('/softphone/app.js')).toMatchObject({ status: 200, type: 'text/javascript; charset=utf-8' });
    expect(await get('/style.css')).toMatchObject({ status: 200, type: 'text/css; charset=utf-8' });
    expect(await get('/blob.bin')).toMatchObject({ status: 200, type: 'application/octet-stream' });
    expect(await get('/softphone/')).toMatchObject({ status: 200, body: '<p>phone</p>' });
    expect(await get('/softphone/app.js?v=3')).toMatchObject({ status: 200 });
  });

  it('answers HEAD with headers only and other methods with 405', async () => {
    const head = await get('/style.css', 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('6');
    expect(head.body).toBe('');
    const post = await get('/style.css', 'POST');
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('answers 404 for missing files, dotfiles and the WebSocket path', async () => {
    expect((await get('/nope.html')).status).toBe(404);
    expect((await get('/.env')).status).toBe(404);
    expect((await get('/sip')).status).toBe(404);
  });

  it('never serves outside public/: dot-dot, encoded dot-dot, encoded slashes, symlinks, NUL', async () => {
    for (const target of ['/../secret.txt', '/softphone/../../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt', '/%2e%2e%2fsecret.txt', '/softphone/..%5c..%5csecret.txt']) {
      const raw = await rawGet(target);
      expect(raw, target).not.toContain('outside');
      expect(raw, target).toMatch(/^HTTP\/1\.1 (400|404)/);
    }
    expect((await get('/link.txt')).status).toBe(404);
    expect((await get('/index.html%00.js')).status).toBe(400);
  });

  it('maps extensions to content types', () => {
    expect(contentTypeFor('a.mjs')).toBe('text/javascript; charset=utf-8');
    expect(contentTypeFor('a.SVG')).toBe('image/svg+xml');
    expect(contentTypeFor('a.wasm')).toBe('application/wasm');
    expect(contentTypeFor('Makefile')).toBe('application/octet-stream');
  });
});

describe('HttpServer without a public directory, over HTTPS', () => {
  it('serves nothing but 404s', async () => {
    const secure = new HttpServer({ host: '127.0.0.1', port: 0, maxPayload: 4096, tls: testCert() }, () => {});
    const { port: p } = await secure.listen();
    try {
      const status = await new Promise<number>((resolve, reject) => {
        https.get({ host: '127.0.0.1', port: p, path: '/', ca: testCert().cert }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        }).on('error', reject);
      });
      expect(status).toBe(404);
      expect(secure.secure).toBe(true);
    } finally {
      await secure.close();
    }
  });
});
