/**
 * Memory of a child Node process, read through its inspector (`--inspect=127.0.0.1:<port>`): a full GC
 * (HeapProfiler.collectGarbage) and then process.memoryUsage() evaluated inside it. RSS alone cannot tell live
 * memory from garbage V8 has not collected yet, or from heap V8 keeps after a peak; after a forced GC,
 * heapUsed + external is what the process really holds — per call while calls are up, and as growth once they
 * have ended (a leak shows there). Nothing is added to the product for this: the inspector is Node's own.
 */
import WebSocket from 'ws';

export interface MemorySample {
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  readonly arrayBuffers: number;
}

async function debuggerUrl(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/json/list`);
  const targets = (await res.json()) as { webSocketDebuggerUrl?: string }[];
  const url = targets[0]?.webSocketDebuggerUrl;
  if (url === undefined) throw new Error(`no inspector target on port ${port}`);
  return url;
}

/** Forces a full GC in the process listening for the inspector on `port` and returns its memory after it. */
export async function memoryAfterGc(port: number): Promise<MemorySample> {
  const ws = new WebSocket(await debuggerUrl(port), { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  let next = 1;
  const call = (method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> => {
    const id = next++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`inspector ${method} timed out`)), 10_000);
      const onMessage = (data: Buffer): void => {
        const msg = JSON.parse(data.toString('utf8')) as { id?: number; result?: Record<string, unknown>; error?: { message: string } };
        if (msg.id !== id) return;
        ws.off('message', onMessage);
        clearTimeout(timer);
        if (msg.error !== undefined) reject(new Error(`inspector ${method}: ${msg.error.message}`));
        else resolve(msg.result ?? {});
      };
      ws.on('message', onMessage);
      ws.send(JSON.stringify({ id, method, params }));
    });
  };
  try {
    // Twice: the first pass can leave objects with finalizers or weak references for the second.
    await call('HeapProfiler.collectGarbage');
    await call('HeapProfiler.collectGarbage');
    const result = await call('Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true });
    const value = (result.result as { value?: string } | undefined)?.value;
    if (typeof value !== 'string') throw new Error('inspector returned no memoryUsage');
    return JSON.parse(value) as MemorySample;
  } finally {
    ws.close();
  }
}
