/**
 * Entry point of the media-only node (see src/ng/media-node-cli.ts for the flags):
 *
 *   node src/media-node.ts --listen-ng 127.0.0.1:2223 --interface 127.0.0.1 --port-min 30000 --port-max 40000
 *
 * Bad flags: a message naming the flag, exit code 2. SIGINT/SIGTERM: stop accepting ng commands, let running
 * ones answer, close the media plane, exit 0; a second signal exits at once with 1.
 */
import { logger } from './log.ts';
import { CliError, MEDIA_NODE_USAGE, parseMediaNodeArgs, runMediaNode } from './ng/media-node-cli.ts';
import type { MediaNodeOptions } from './ng/media-node-cli.ts';

let options: MediaNodeOptions | undefined;
try {
  options = parseMediaNodeArgs(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof CliError)) throw err;
  process.stderr.write(`media-node: ${err.message}\n${MEDIA_NODE_USAGE}\n`);
  process.exit(2);
}
if (options === undefined) {
  process.stdout.write(`${MEDIA_NODE_USAGE}\n`);
  process.exit(0);
}

// Loaded only once the flags are known to be good: a typo gets its exit code 2 without starting anything.
const { MediaService } = await import('./rtp-bridge/media-service.ts');
const node = await runMediaNode(options, (o) => MediaService.create(o)).catch((err: unknown) => {
  logger.fatal({ err }, 'media node failed to start');
  process.exit(1);
});
const { udp, tcp, ws } = node.server.addresses;
logger.info(
  {
    udp: udp.map((a) => `${a.address}:${a.port}`),
    tcp: tcp.map((a) => `${a.address}:${a.port}`),
    ws: ws.map((a) => `${a.address}:${a.port}`),
    interface: options.interface,
    ports: `${options.portMin}-${options.portMax}`,
  },
  'media node listening',
);

let signalled = false;
const shutdown = (signal: NodeJS.Signals): void => {
  if (signalled) process.exit(1);
  signalled = true;
  logger.info({ signal }, 'media node shutting down');
  node.stop().then(
    () => process.exit(0),
    (err: unknown) => {
      logger.error({ err }, 'media node shutdown failed');
      process.exit(1);
    },
  );
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
