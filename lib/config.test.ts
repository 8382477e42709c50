// The shared configuration reader: precedence, empty variables, every problem at once, help text.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, configHelp, option, readConfig, schemas } from './config.js';

const spec = {
  port: option({ env: 'X_PORT', help: 'listen port', default: '8080', schema: schemas.port() }),
  dataDir: option({ env: 'X_DATA_DIR', help: 'data', schema: z.string().min(1) }),
  verbose: option({
    env: 'X_VERBOSE',
    boolean: true,
    help: 'talk',
    default: 'false',
    schema: schemas.bool(),
  }),
  metricsUrl: option({
    env: 'X_METRICS',
    help: "'' = none",
    default: 'http://a',
    emptyIsValue: true,
    schema: schemas.optionalText(),
  }),
  flagOnly: option({ help: 'no variable', schema: schemas.optionalText() }),
};

describe('readConfig', () => {
  it('flag > variable > default, and says which were given', () => {
    const { config, given } = readConfig(spec, ['--port', '9', '--verbose'], {
      X_PORT: '7',
      X_DATA_DIR: '/d',
    });
    expect(config).toEqual({
      port: 9,
      dataDir: '/d',
      verbose: true,
      metricsUrl: 'http://a',
      flagOnly: undefined,
    });
    expect([...given].sort()).toEqual(['dataDir', 'port', 'verbose']);
    expect(readConfig(spec, [], { X_DATA_DIR: '/d', X_PORT: '7' }).config.port).toBe(7);
    expect(readConfig(spec, [], { X_DATA_DIR: '/d', X_VERBOSE: '1' }).config.verbose).toBe(true);
  });

  it('an empty variable is unset, unless the option takes it as a value', () => {
    const { config } = readConfig(spec, [], { X_DATA_DIR: '/d', X_PORT: '', X_METRICS: '' });
    expect(config.port).toBe(8080);
    expect(config.metricsUrl).toBeUndefined();
  });

  it('lists every bad value, each naming its flag and variable', () => {
    let err: unknown;
    try {
      readConfig(spec, ['--port', 'eighty'], { X_VERBOSE: 'maybe' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems;
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/^invalid --port \/ X_PORT \("eighty"\)/);
    expect(problems[1]).toMatch(/^invalid --data-dir \/ X_DATA_DIR \(undefined\): required, not set/);
    expect(problems[2]).toMatch(/^invalid --verbose \/ X_VERBOSE \("maybe"\): true or false/);
  });

  it('refuses an unknown flag, pointing at --help; --help is always there', () => {
    expect(() => readConfig(spec, ['--prot', '1'], {})).toThrow(/'--prot'.*--help/);
    expect(readConfig(spec, ['--help'], {}).help).toBe(true);
  });

  it('help lists every flag with its variable and default', () => {
    const help = configHelp(spec, 'title');
    expect(help).toMatch(/--port VALUE +listen port \[\$X_PORT\] \(default 8080\)/);
    expect(help).toMatch(/--verbose +talk \[\$X_VERBOSE\]/);
    expect(help).toMatch(/--flag-only VALUE +no variable$/m);
    expect(help).toMatch(/--help/);
  });
});
