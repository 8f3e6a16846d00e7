/**
 * Small JSON endpoints on the gateway's HTTP server (`POST /api/token`): matched by method and exact path before
 * static files; the request body is read up to a limit (413 beyond, the connection closed), the handler's answer
 * is sent as JSON and never cached.
 */
import type http from 'node:http';
import { normalizeAddress } from './transports/connection.ts';

export interface HttpRouteRequest {
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
  /** The client's address (IPv4-mapped IPv6 reduced). */
  readonly source: string;
}

export interface HttpRouteResponse {
  status: number;
  /** Serialized as JSON. */
  body: unknown;
  headers?: Record<string, string>;
}

export interface HttpRoute {
  readonly method: string;
  readonly path: string;
  /** Larger bodies get 413. Default 8 KiB. */
  readonly maxBodyBytes?: number;
  handle(request: HttpRouteRequest): HttpRouteResponse | Promise<HttpRouteResponse>;
}

const DEFAULT_MAX_BODY_BYTES = 8 * 1024;

/** A JSON endpoint: the body read up to its limit (413 beyond), the handler's answer as JSON, never cached. */
export async function serveRoute(route: HttpRoute, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const limit = route.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) {
    tooLarge(res, req);
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      tooLarge(res, req);
      return;
    }
    chunks.push(chunk as Buffer);
  }
  const answer = await route.handle({ headers: req.headers, body: Buffer.concat(chunks), source: normalizeAddress(req.socket.remoteAddress ?? '') });
  const body = JSON.stringify(answer.body);
  res.writeHead(answer.status, {
    ...answer.headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
  });
  res.end(body);
}

/** 413, then the connection is dropped once the answer is out (the rest of the body is not read). */
function tooLarge(res: http.ServerResponse, req: http.IncomingMessage): void {
  res.once('finish', () => req.destroy());
  const body = '413 Content Too Large\n';
  res.writeHead(413, { Connection: 'close', 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'X-Content-Type-Options': 'nosniff' });
  res.end(body);
}
