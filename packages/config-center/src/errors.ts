import { BallastError, type BallastErrorOptions, errorGuard } from '@ballast/core';

/** A config file could not be parsed: names the file, the 1-based line and column, and the parser's reason. */
export class ConfigParseError extends BallastError {
  static readonly code = 'CONFIG_PARSE';
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
    readonly reason: string,
    options: BallastErrorOptions = {},
  ) {
    super(new.target.code, `${file}:${line}:${column}: ${reason}`, options);
  }
}
export const isConfigParseError = errorGuard<ConfigParseError>(ConfigParseError.code);

/** A `${VAR}` without a default names a variable that is not set. */
export class MissingEnvVarError extends BallastError {
  static readonly code = 'CONFIG_MISSING_ENV_VAR';
  constructor(
    readonly variable: string,
    /** Where the reference stands: `<file>: <dotted key>`. */
    readonly where: string,
  ) {
    super(
      new.target.code,
      `Environment variable ${variable} is not set (referenced by \${${variable}} at ${where}; write \${${variable}:-default} to give a default)`,
    );
  }
}
export const isMissingEnvVarError = errorGuard<MissingEnvVarError>(MissingEnvVarError.code);

/** One key that broke the schema: the dotted key and why. */
export interface ConfigIssue {
  key: string;
  message: string;
}

/** A snapshot failed the schema. At start-up it is thrown; later it is rejected and the last-known-good stays. */
export class ConfigValidationError extends BallastError {
  static readonly code = 'CONFIG_INVALID';
  constructor(
    /** What produced the snapshot: `startup`, `file:<path>`, `remote:<name>`, `set`, `rollback`. */
    readonly origin: string,
    readonly issues: readonly ConfigIssue[],
  ) {
    super(new.target.code, `Config from ${origin} rejected: ${issues.map((i) => `${i.key}: ${i.message}`).join('; ')}`);
  }
}
export const isConfigValidationError = errorGuard<ConfigValidationError>(ConfigValidationError.code);

/** A check-and-set write lost: the remote moved past the version the write was based on. */
export class ConfigConflictError extends BallastError {
  static readonly code = 'CONFIG_CONFLICT';
  constructor(
    readonly store: string,
    readonly expectedVersion: number,
    readonly actualVersion: number | undefined,
  ) {
    super(
      new.target.code,
      `Write to ${store} lost its check-and-set: expected version ${expectedVersion}, the remote is at ${actualVersion ?? 'a newer version'}`,
    );
  }
}
export const isConfigConflictError = errorGuard<ConfigConflictError>(ConfigConflictError.code);

/** `rollback(version)` named a version the store does not hold (never written, or trimmed by `maxVersions`). */
export class UnknownVersionError extends BallastError {
  static readonly code = 'CONFIG_UNKNOWN_VERSION';
  constructor(
    readonly store: string,
    readonly version: number,
  ) {
    super(new.target.code, `${store} holds no version ${version}`);
  }
}
export const isUnknownVersionError = errorGuard<UnknownVersionError>(UnknownVersionError.code);

/** A remote store could not be reached or answered with an error. */
export class RemoteUnavailableError extends BallastError {
  static readonly code = 'CONFIG_REMOTE_UNAVAILABLE';
  constructor(
    readonly store: string,
    reason: string,
    options: BallastErrorOptions = {},
  ) {
    super(new.target.code, `${store} unavailable: ${reason}`, options);
  }
}
export const isRemoteUnavailableError = errorGuard<RemoteUnavailableError>(RemoteUnavailableError.code);

/** `set`, `history` or `rollback` without a remote source to write to, or naming one that is not configured. */
export class NoRemoteSourceError extends BallastError {
  static readonly code = 'CONFIG_NO_REMOTE';
  constructor(message: string) {
    super(new.target.code, message);
  }
}
export const isNoRemoteSourceError = errorGuard<NoRemoteSourceError>(NoRemoteSourceError.code);

/** The config was used after `close()`. */
export class ConfigClosedError extends BallastError {
  static readonly code = 'CONFIG_CLOSED';
  constructor() {
    super(new.target.code, 'The config is closed');
  }
}
export const isConfigClosedError = errorGuard<ConfigClosedError>(ConfigClosedError.code);

/**
 * The remote went back: its version is lower than the one this config holds, or it is empty at version 0 (a KV
 * store wiped, a Redis restarted without data). Refused, the last-known-good stays, unless `acceptRemoteReset`.
 */
export class RemoteResetError extends BallastError {
  static readonly code = 'CONFIG_REMOTE_RESET';
  constructor(
    readonly store: string,
    readonly heldVersion: number,
    readonly remoteVersion: number,
  ) {
    super(
      new.target.code,
      `${store} went back from version ${heldVersion} to ${remoteVersion}${remoteVersion === 0 ? ' (emptied)' : ''}: refused, last-known-good version ${heldVersion} kept (set acceptRemoteReset to follow a reset remote)`,
    );
  }
}
export const isRemoteResetError = errorGuard<RemoteResetError>(RemoteResetError.code);
