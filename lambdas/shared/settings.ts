/**
 * The rules a function's environment is read by. A cold start reads a dozen to thirty variables
 * once; zod made that its costliest step after Powertools (measured with `npm run bench --
 * --only=coldstart`: loading zod, building the schema and compiling its parser), and the functions
 * that validate nothing else carried zod for it alone. These rules are plain functions instead.
 */

/** How one variable is read: its value, or a SettingProblem saying what is wrong with it. */
export type Setting<T> = (raw: string | undefined) => T;

/** What a set of rules reads into. */
export type SettingsOf<S> = { [K in keyof S]: S[K] extends Setting<infer T> ? T : never };

class SettingProblem extends Error {}

function present(raw: string | undefined): string {
  if (raw === undefined) throw new SettingProblem('missing');
  return raw;
}

export function text({
  min = 1,
  pattern,
}: {
  min?: number;
  pattern?: RegExp;
} = {}): Setting<string> {
  return (raw) => {
    const value = present(raw);
    if (value.length < min) throw new SettingProblem(`must have at least ${min} characters`);
    if (pattern && !pattern.test(value)) throw new SettingProblem(`must match ${pattern}`);
    return value;
  };
}

/** Like `text`, and an unset variable reads as `fallback`. */
export function optionalText(fallback: string): Setting<string> {
  return (raw) => raw ?? fallback;
}

/** Like `setting`, and an unset variable reads as undefined. */
export function optional<T>(setting: Setting<T>): Setting<T | undefined> {
  return (raw) => (raw === undefined ? undefined : setting(raw));
}

export const url: Setting<string> = (raw) => {
  const value = present(raw);
  if (!URL.canParse(value)) throw new SettingProblem('must be an absolute URL');
  return value;
};

/** A number written in the variable, at least `min` (or above `above`), at most `max`. */
export function number({
  integer = true,
  min,
  above,
  max,
}: {
  integer?: boolean;
  min?: number;
  above?: number;
  max?: number;
}): Setting<number> {
  return (raw) => {
    const value = Number(present(raw));
    if (!Number.isFinite(value)) throw new SettingProblem('must be a number');
    if (integer && !Number.isSafeInteger(value)) throw new SettingProblem('must be an integer');
    if (min !== undefined && value < min) throw new SettingProblem(`must be at least ${min}`);
    if (above !== undefined && value <= above) throw new SettingProblem(`must be above ${above}`);
    if (max !== undefined && value > max) throw new SettingProblem(`must be at most ${max}`);
    return value;
  };
}

export function oneOf<const T extends string>(values: readonly T[]): Setting<T> {
  return (raw) => {
    const value = present(raw);
    if (!(values as readonly string[]).includes(value)) {
      throw new SettingProblem(`must be one of ${values.join(', ')}`);
    }
    return value as T;
  };
}

/** A comma-separated list of at least one item, each trimmed and matching `pattern`. */
export function list(pattern: RegExp): Setting<string[]> {
  return (raw) => {
    const items = present(raw)
      .split(',')
      .map((part) => part.trim());
    const wrong = items.filter((item) => !pattern.test(item));
    if (wrong.length > 0) throw new SettingProblem(`${wrong.join(', ')} must match ${pattern}`);
    return items;
  };
}

/** A comma-separated list of at least one number, each read by `each` (`number({ min: 1 })`). */
export function numbers(each: Setting<number>): Setting<number[]> {
  return (raw) => {
    const items = present(raw)
      .split(',')
      .map((part) => part.trim());
    const read: number[] = [];
    for (const item of items) {
      try {
        read.push(each(item));
      } catch (error) {
        if (!(error instanceof SettingProblem)) throw error;
        throw new SettingProblem(`${item || '(empty)'}: ${error.message}`);
      }
    }
    return read;
  };
}

/** A JSON object whose every value `entry` reads (`{}` when unset). */
export function jsonRecord<T>(entry: (value: unknown) => T | string): Setting<Record<string, T>> {
  return (raw) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw ?? '{}');
    } catch {
      throw new SettingProblem('must be JSON');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new SettingProblem('must be a JSON object');
    }
    const out: Record<string, T> = {};
    for (const [key, value] of Object.entries(parsed)) {
      const read = entry(value);
      if (typeof read === 'string') throw new SettingProblem(`${key}: ${read}`);
      out[key] = read;
    }
    return out;
  };
}

/** Reads every rule of `shape` from `env`; a wrong setting stops the start, naming every problem. */
export function readSettings<S extends Record<string, Setting<unknown>>>(
  shape: S,
  env: NodeJS.ProcessEnv,
): SettingsOf<S> {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [variable, read] of Object.entries(shape)) {
    try {
      out[variable] = read(env[variable]);
    } catch (error) {
      if (!(error instanceof SettingProblem)) throw error;
      problems.push(`${variable}: ${error.message}`);
    }
  }
  if (problems.length > 0) throw new Error(`Invalid environment: ${problems.join('; ')}`);
  return out as SettingsOf<S>;
}
