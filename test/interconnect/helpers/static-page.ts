/**
 * Serves public/ (the softphone page) for the Kamailio browser test, run INSIDE its network namespace — Kamailio
 * cannot serve the page, and the test process cannot reach that namespace's loopback:
 *   node static-page.ts <dir>      → prints {"listening":<port>} once bound on 127.0.0.1; exits on SIGTERM.
 */
import { serveStatic } from '../../public/static-server.ts';

const dir = process.argv[2];
if (dir === undefined) {
  process.stderr.write('usage: static-page.ts <dir>\n');
  process.exit(2);
}
const server = await serveStatic(dir);
process.stdout.write(`${JSON.stringify({ listening: server.port })}\n`);
process.on('SIGTERM', () => {
  void server.close().then(() => process.exit(0));
});
