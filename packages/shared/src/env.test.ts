import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { EnvError, parseEnv } from './env';

const Env = z.object({
  PORT: z.coerce.number().int().positive(),
  SECRET: z.string().min(32),
});

describe('parseEnv', () => {
  it('parses and coerces a valid environment', () => {
    expect(parseEnv(Env, { PORT: '8080', SECRET: 'x'.repeat(32) })).toEqual({
      PORT: 8080,
      SECRET: 'x'.repeat(32),
    });
  });

  it('names every bad variable and never echoes a value', () => {
    const secret = 'short-secret-value';
    let caught: unknown;
    try {
      parseEnv(Env, { PORT: 'abc', SECRET: secret });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(EnvError);
    const message = (caught as Error).message;
    expect(message).toContain('PORT');
    expect(message).toContain('SECRET');
    expect(message).not.toContain(secret);
  });
});
