/**
 * Entry point of the media-only node (see src/ng/media-node-cli.ts for the flags):
 *
 *   node src/media-node.ts --listen-ng 127.0.0.1:2223 --interface 127.0.0.1 --port-min 30000 --port-max 40000
 *
 * Bad flags: a message naming the flag, exit code 2. SIGINT/SIGTERM: stop accepting ng commands, let running
 * ones answer, close the media plane, exit 0; a second signal exits at once with 1.
 *
 * With --supervised (a gateway media worker, forked by src/cluster/worker-process.ts) the IPC channel is the
 * control plane (src/cluster/worker-protocol.ts): ng commands come in and replies go out on it — no ng socket is
 * needed, and none is opened unless a --listen-* flag asks — and the media plane's timeout, DTMF and failed
 * events go out on it, since ng cannot carry them. `ready` is sent once commands are taken (or `failed` with why
 * it could not start), and the node shuts down when that channel closes — the gateway stopped or died, even by SIGKILL — so no worker outlives its gateway. It ignores
 * SIGINT (a Ctrl-C reaches the gateway too, which stops its workers once its calls have ended).
 */
import { logger } from './log.ts';
import { CliError, MEDIA_NODE_USAGE, parseMediaNodeArgs, runMediaNode } from './ng/media-node-cli.ts';
import type { MediaNodeOptions } from './ng/media-node-cli.ts';
import { ngFromWire, ngToWire, parseSupervisorMessage, type WorkerMessage } from './cluster/worker-protocol.ts';

/** A stop that hangs (a socket that will not close) must not keep an orphan alive. */
const STOP_DEADLINE_MS = 5000;

/** Resolves once the message is handed to the channel (process.exit() right after send() would drop it). */
function tellSupervisor(message: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!options?.supervised || !process.connected || process.send === undefined) return resolve();
    process.send(message, undefined, undefined, () => resolve());
  });
}

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
if (options.supervised && process.send === undefined) {
  process.stderr.write('media-node: --supervised needs an IPC channel (the gateway forks the node with one)\n');
  process.exit(2);
}
// Listening from the start: a gateway that dies while this node is still starting must not leave it running.
let onDisconnect = (): void => process.exit(1);
if (options.supervised) {
  if (!process.connected) process.exit(1);
  process.on('disconnect', () => onDisconnect());
}

// Loaded only once the flags are known to be good: a typo gets its exit code 2 without starting anything.
const { MediaService } = await import('./rtp-bridge/media-service.ts');
const node = await runMediaNode(options, (o) => MediaService.create(o)).catch(async (err: unknown) => {
  logger.fatal({ err }, 'media node failed to start');
  await tellSupervisor({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
const { udp, tcp, ws } = node.server.addresses;
logger.info(
  {
    pid: process.pid,
    udp: udp.map((a) => `${a.address}:${a.port}`),
    tcp: tcp.map((a) => `${a.address}:${a.port}`),
    ws: ws.map((a) => `${a.address}:${a.port}`),
    interface: options.interface,
    ports: `${options.portMin}-${options.portMax}`,
  },
  options.supervised ? 'media worker ready (ng over the IPC channel)' : 'media node listening',
);

let signalled = false;
const shutdown = (signal: NodeJS.Signals | 'disconnect'): void => {
  if (signalled) {
    // A second signal means "now"; the channel closing while a stop runs (the gateway exiting) does not.
    if (signal !== 'disconnect') process.exit(1);
    return;
  }
  signalled = true;
  logger.info({ signal }, 'media node shutting down');
  setTimeout(() => {
    logger.error({ deadlineMs: STOP_DEADLINE_MS }, 'media node shutdown took too long; exiting');
    process.exit(1);
  }, STOP_DEADLINE_MS).unref();
  node.stop().then(
    () => process.exit(0),
    (err: unknown) => {
      logger.error({ err }, 'media node shutdown failed');
      process.exit(1);
    },
  );
};
process.on('SIGTERM', shutdown);
// A supervised worker leaves Ctrl-C to its gateway: the terminal sends SIGINT to the whole process group, and the
// gateway first ends its calls with BYE and only then stops its workers (or the channel closes if it dies).
process.on('SIGINT', options.supervised ? () => logger.debug('SIGINT ignored: the gateway stops its media workers') : shutdown);
if (options.supervised) {
  onDisconnect = () => shutdown('disconnect');
  if (!process.connected) shutdown('disconnect');
  // Fire and forget: a channel that closed meanwhile means the gateway is gone, and shutdown() follows.
  const send = (message: WorkerMessage): void => {
    if (process.connected) process.send!(message, undefined, undefined, () => undefined);
  };
  process.on('message', (raw) => {
    const message = parseSupervisorMessage(raw);
    if (message === undefined) return logger.warn('unknown message from the supervising gateway; ignored');
    void node.server.receive(ngFromWire(message.data), 'ipc', (reply) => send({ type: 'ng', data: ngToWire(reply) }));
  });
  node.media.on('timeout', (callId, tag) => send({ type: 'media-timeout', callId, tag }));
  node.media.on('dtmf', (callId, tag, digit) => send({ type: 'media-dtmf', callId, tag, digit }));
  node.media.on('failed', (callId, tag, reason) => send({ type: 'media-failed', callId, tag, reason }));
  void tellSupervisor({ type: 'ready' });
}
