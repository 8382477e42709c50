// One way every entry point (server, sidecar, router, operator) reads its configuration: a spec
// of options, each with a command-line flag, the environment variable read when the flag is
// absent, a default, a help line and a zod schema. Precedence: flag > environment > default.
// Every bad value is reported at once, each naming its flag and variable; `--help` text comes
// from the same spec, so it cannot drift from what is read.
//
// API:
//   option({ env, help, default?, schema, boolean? })     one option (the key, in camelCase,
//                                                         gives the flag: dataDir → --data-dir)
//   readConfig(spec, argv, env) → { config, given, help }  throws ConfigError
//   configHelp(spec, title) → string
//   ConfigOf<typeof spec>                                 the typed config
import { parseArgs } from 'node:util';
import { z } from 'zod';

export interface Option<S extends z.ZodType = z.ZodType> {
  /** environment variable read when the flag is absent; none: flag only */
  env?: string;
  help: string;
  /** the value (as text) when neither flag nor variable is set; undefined reaches the schema otherwise */
  default?: string;
  /** parses the text; an empty variable counts as unset unless emptyIsValue */
  schema: S;
  /** a flag without a value (`--demo`); its variable is read as text by the schema */
  boolean?: true;
  /** an empty variable is a value (e.g. "none"), not unset */
  emptyIsValue?: true;
}

export type Spec = Record<string, Option>;

export type ConfigOf<T extends Spec> = { [K in keyof T]: z.output<T[K]['schema']> };

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.length === 1 ? problems[0] : `invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

export function option<S extends z.ZodType>(o: Option<S>): Option<S> {
  return o;
}

/** camelCase key → kebab-case flag: maxBatchSize → max-batch-size. */
export function flagOf(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

export function configHelp(spec: Spec, title: string): string {
  const rows = Object.entries(spec).map(([key, o]) => {
    const left = `--${flagOf(key)}${o.boolean ? '' : ' VALUE'}`;
    const env = o.env ? ` [$${o.env}]` : '';
    const def = o.default !== undefined && o.default !== '' ? ` (default ${o.default})` : '';
    return `  ${left.padEnd(34)} ${o.help}${env}${def}`;
  });
  return [title, '', ...rows, `  ${'--help'.padEnd(34)} print this help`].join('\n');
}

export interface ReadResult<T extends Spec> {
  config: ConfigOf<T>;
  /** keys set by a flag or a non-empty variable (not by a default) */
  given: Set<keyof T>;
  /** --help was asked for: config holds defaults only where they parse; print configHelp and exit */
  help: boolean;
}

/** Read flags and environment through the spec; throws ConfigError listing every bad value. */
export function readConfig<T extends Spec>(
  spec: T,
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): ReadResult<T> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        help: { type: 'boolean' },
        ...Object.fromEntries(
          Object.entries(spec).map(([key, o]) => [
            flagOf(key),
            { type: o.boolean ? ('boolean' as const) : ('string' as const) },
          ]),
        ),
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    // node:util names the flag already ("Unknown option '--x'"); say where the list is.
    throw new ConfigError([`${(err as Error).message} (--help lists the options)`]);
  }
  if (values.help) {
    return { config: {} as ConfigOf<T>, given: new Set(), help: true };
  }
  const config: Record<string, unknown> = {};
  const given = new Set<keyof T>();
  const problems: string[] = [];
  for (const [key, o] of Object.entries(spec)) {
    const flag = flagOf(key);
    const fromFlag = values[flag];
    const envValue = o.env ? env[o.env] : undefined;
    const fromEnv = envValue === '' && !o.emptyIsValue ? undefined : envValue;
    let raw: string | undefined;
    if (fromFlag !== undefined) raw = String(fromFlag);
    else if (fromEnv !== undefined) raw = fromEnv;
    else raw = o.default;
    if (fromFlag !== undefined || fromEnv !== undefined) given.add(key);
    const parsed = o.schema.safeParse(raw);
    if (parsed.success) {
      config[key] = parsed.data;
    } else {
      const name = `--${flag}${o.env ? ` / ${o.env}` : ''}`;
      const issue = parsed.error.issues[0]!;
      const why = raw === undefined ? 'required, not set' : issue.message;
      problems.push(`invalid ${name} (${JSON.stringify(raw)}): ${why}`);
    }
  }
  if (problems.length) throw new ConfigError(problems);
  return { config: config as ConfigOf<T>, given, help: false };
}

// Schemas the entry points share. Each reads text (flags and variables are text).
export const schemas = {
  int: (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max),
  number: (min: number) =>
    z.coerce.number().refine(Number.isFinite, 'a finite number').pipe(z.number().min(min)),
  port: () => z.coerce.number().int().min(0).max(65535),
  bool: () =>
    z
      .enum(['true', 'false', '1', '0'], { message: 'true or false' })
      .transform((v) => v === 'true' || v === '1'),
  text: () => z.string(),
  optionalText: () =>
    z
      .string()
      .optional()
      .transform((v) => (v === '' ? undefined : v)),
};
