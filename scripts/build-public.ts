/**
 * Bundle the browser code in public/ with esbuild:
 *   public/softphone/main.ts → public/build/softphone.js (ESM, loaded with <script type="module">)
 *   public/widget/main.ts    → public/build/widget.js    (IIFE: embedders may use a classic <script> tag,
 *                                                          where ESM top-level names would leak into window)
 * Run: node_modules/.bin/node scripts/build-public.ts   (or import { buildPublic } in tests)
 */
import { build, type Metafile } from 'esbuild';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface BuildPublicOptions {
  /** Output directory; default public/build. */
  readonly outdir?: string;
  /** Default true. */
  readonly minify?: boolean;
}

export interface BuildPublicResult {
  readonly outdir: string;
  /** Output file → size in bytes (JavaScript bundles only, not source maps). */
  readonly bundles: Readonly<Record<string, number>>;
}

/** Browsers with RTCRtpSender.dtmf, setSinkId-or-not, and private class fields. */
const TARGETS = ['chrome100', 'edge100', 'firefox100', 'safari15.4'];

export async function buildPublic(options: BuildPublicOptions = {}): Promise<BuildPublicResult> {
  const outdir = options.outdir ?? path.join(root, 'public', 'build');
  const common = {
    bundle: true,
    platform: 'browser',
    target: TARGETS,
    minify: options.minify ?? true,
    sourcemap: true,
    outdir,
    metafile: true,
    logLevel: 'silent',
    legalComments: 'linked',
  } as const;
  const [softphone, widget] = await Promise.all([
    build({ ...common, format: 'esm', entryPoints: { softphone: path.join(root, 'public', 'softphone', 'main.ts') } }),
    build({ ...common, format: 'iife', entryPoints: { widget: path.join(root, 'public', 'widget', 'main.ts') } }),
  ]);
  return { outdir, bundles: { ...sizes(softphone.metafile), ...sizes(widget.metafile) } };
}

function sizes(metafile: Metafile): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [file, info] of Object.entries(metafile.outputs)) {
    if (file.endsWith('.js')) out[path.basename(file)] = info.bytes;
  }
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const started = performance.now();
  buildPublic().then(
    (result) => {
      const list = Object.entries(result.bundles).map(([file, bytes]) => `${file} ${(bytes / 1024).toFixed(1)} KiB`);
      console.log(`built ${list.join(', ')} into ${path.relative(process.cwd(), result.outdir) || '.'} in ${Math.round(performance.now() - started)} ms`);
    },
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
