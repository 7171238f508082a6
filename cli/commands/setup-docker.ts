/**
 * `latchkey setup-docker --registry HOST`: binds the registry to the context (so
 * docker-credential-latchkey answers for it) and names `latchkey` as its helper in
 * Docker's config.json (`credHelpers`), keeping everything else in that file; the file is
 * replaced atomically (the file a symlink names, where it is one). Docker finds the helper as `docker-credential-latchkey` on PATH: if
 * it is not there, the one `ln -s` that makes it is printed; nothing is written into PATH.
 */

import { selectContext, writeFileAtomic } from '../../packages/client/src/config.ts';
import { readText } from '../../packages/client/src/host.ts';
import { listArgument, normalHost } from '../bound-hosts.ts';
import { type Command, text } from '../command.ts';
import type { CliDeps, GlobalOptions } from '../deps.ts';
import { CliError } from '../errors.ts';
import { shellWord } from '../shell-word.ts';

export const HELPER_PROGRAM = 'docker-credential-latchkey';

/** Docker's config file: $DOCKER_CONFIG/config.json, else ~/.docker/config.json. */
export const dockerConfigPath = (env: Record<string, string | undefined>) =>
  `${env.DOCKER_CONFIG || `${env.HOME || process.getBuiltinModule('node:os').homedir()}/.docker`}/config.json`;

/** What setup-docker writes: the new config.json, and the helpers it took registries from. */
type Edited = { text: string; replaced: Array<{ registry: string; helper: string }> };

/**
 * config.json with `credHelpers[registry] = "latchkey"` for each registry, every other key
 * as it was. A registry another helper (gcloud, ecr-login) answered for is taken from it:
 * `replaced` names them, so the person hears what Docker will no longer ask.
 */
export function withCredHelpers(text: string | null, path: string, registries: string[]): Edited {
  let parsed: unknown = {};
  if (text !== null && text.trim() !== '') {
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new CliError('failed', `${path} is not valid JSON; it was left as it is`);
    }
  }
  const isObject = (value: unknown): value is Record<string, unknown> =>
    typeof value === 'object' && value !== null && !Array.isArray(value);
  if (!isObject(parsed)) throw new CliError('failed', `${path} is not a JSON object; it was left as it is`);
  const helpers = parsed.credHelpers ?? {};
  if (!isObject(helpers)) throw new CliError('failed', `${path}: credHelpers is not an object; it was left as it is`);
  const replaced = registries
    .filter((registry) => Object.hasOwn(helpers, registry) && helpers[registry] !== 'latchkey')
    .map((registry) => {
      const helper = helpers[registry];
      return { registry, helper: typeof helper === 'string' ? helper : JSON.stringify(helper) };
    });
  const added = Object.fromEntries(registries.map((registry) => [registry, 'latchkey']));
  return { text: `${JSON.stringify({ ...parsed, credHelpers: { ...helpers, ...added } }, null, '\t')}\n`, replaced };
}

/**
 * The file a config.json path stands for. A symlink (a dotfiles repository's) is followed,
 * so the atomic write replaces the file it points to and the link stays; a link to nothing
 * is left alone rather than replaced by a file of its own.
 */
async function realFile(path: string): Promise<string> {
  const { lstat, realpath } = await import('node:fs/promises');
  try {
    return await realpath(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const link = await lstat(path).catch(() => null);
  if (link?.isSymbolicLink()) {
    throw new CliError('failed', `${path} is a symbolic link to a file that does not exist; it was left as it is`);
  }
  return path;
}

/** Whether some PATH directory holds an executable `name`. */
async function onPath(env: Record<string, string | undefined>, name: string): Promise<boolean> {
  const { access, constants } = await import('node:fs/promises');
  for (const dir of (env.PATH ?? '').split(':').filter((entry) => entry.startsWith('/'))) {
    try {
      await access(`${dir}/${name}`, constants.X_OK);
      return true;
    } catch {}
  }
  return false;
}

/** `ln -s` of this binary as the helper, into a PATH directory: beside the binary if that is on PATH, else ~/.local/bin. */
function linkCommand(deps: CliDeps): string {
  const self = deps.self[0] as string;
  const beside = self.slice(0, self.lastIndexOf('/'));
  const path = (deps.env.PATH ?? '').split(':');
  const local = `${deps.env.HOME}/.local/bin`;
  const dir = path.includes(beside) ? beside : path.includes(local) ? local : '/usr/local/bin';
  return `ln -s ${shellWord(self)} ${shellWord(`${dir}/${HELPER_PROGRAM}`)}`;
}

export async function setupDocker(deps: CliDeps, global: GlobalOptions, given: string[]): Promise<void> {
  const registries = given.map((value) => {
    const host = normalHost('https', value);
    if (host === null) throw new CliError('usage', `--registry takes a registry host or host:port: "${value}"`);
    return host;
  });
  const config = await deps.config.read();
  const { name, context } = selectContext(config, global.context);
  const path = dockerConfigPath(deps.env);
  const target = await realFile(path);
  // Checked before anything is written: a config.json latchkey cannot read is left alone, and nothing is bound.
  const edited = withCredHelpers(await readText(target), path, registries);
  const bound = [...new Set([...(context.dockerRegistries ?? []), ...registries])];
  await deps.config.write({ ...config, contexts: { ...config.contexts, [name]: { ...context, dockerRegistries: bound } } });
  await writeFileAtomic(target, edited.text);

  const missing = !(await onPath(deps.env, HELPER_PROGRAM));
  const link = missing ? linkCommand(deps) : null;
  if (global.json) {
    const report = {
      context: name,
      docker_config: path,
      docker_registries: bound,
      replaced: edited.replaced,
      link_command: link,
    };
    deps.io.out(`${JSON.stringify(report)}\n`);
  }
  for (const { registry, helper } of edited.replaced) deps.io.err(`replacing ${helper} for ${registry}\n`);
  deps.io.err(`Docker now asks latchkey (context "${name}") for ${registries.join(', ')} (${path}).\n`);
  if (name !== config.current) {
    deps.io.err(`Docker passes no arguments, so the helper answers with the current context; "${name}" is not it.\n`);
  }
  if (link) deps.io.err(`Docker runs ${HELPER_PROGRAM} from PATH, and there is none; make it with:\n  ${link}\n`);
}

export const command: Command = {
  usage: ['setup-docker --registry HOST[,HOST…]'],
  help: `Makes Docker use latchkey's token for the registries named and binds them to the
context: docker-credential-latchkey answers for them and no other. Edits credHelpers in
$DOCKER_CONFIG/config.json (else ~/.docker/config.json, followed where it is a symlink),
keeping the rest of the file; a registry another helper answered for is taken from it, and
said so. Docker answers with the current context at the time it asks.`,
  options: {
    registry: { type: 'string', value: 'HOST', description: 'a registry host[:port] (or comma-separated ones) to bind' },
  },
  maxArgs: 0,
  run: (deps, global, parsed) => {
    const given = text(parsed, 'registry');
    const registries = given === undefined ? [] : listArgument(given);
    if (registries.length === 0) throw new CliError('usage', 'which registry? pass --registry HOST');
    return setupDocker(deps, global, registries);
  },
};
