// Types of web/protocol.js: the request protocol between the page and the Worker.

export type OptionKind =
  | 'number' | 'integer' | 'boolean' | 'string' | 'strings' | 'stringOrStrings' | 'any' | 'object' | 'array'
  | 'toolChoice' | 'function' | 'url' | 'signal';
export type OptionTable = Readonly<Record<string, OptionKind>>;

export const GENERATION_OPTIONS: OptionTable;
export const CHAT_OPTIONS: OptionTable;
export const CALL_OPTIONS: OptionTable;
export const GROUNDING_OPTIONS: OptionTable;
export const ADAPTER_OPTIONS: OptionTable;
export const CONSTRUCTOR_OPTIONS: OptionTable;
export const LOAD_OPTIONS: OptionTable;
export const EMBEDDER_LOAD_OPTIONS: OptionTable;
export const GENERATE_CALL_OPTIONS: OptionTable;
export const CHAT_CALL_OPTIONS: OptionTable;

/** An Error whose `name` says what happened; `extra` adds fields. */
export function namedError<T extends object = {}>(name: string, message: string, extra?: T): Error & T;
/** The AbortError for an aborted signal. */
export function abortError(signal?: AbortSignal | null): Error;
export function serializeError(error: unknown): { name: string; message: string; [key: string]: unknown };
export function deserializeError(plain: { name: string; message: string; [key: string]: unknown }): Error;
/** Throws InvalidArgumentError for an unknown key (naming the closest valid one) or a value of the wrong kind. */
export function checkOptions(options: object | null | undefined, table: OptionTable, where: string): void;
/** The keys of `options` in `table`, without undefined values. */
export function pickOptions<T extends object>(options: T | null | undefined, table: OptionTable): Partial<T>;
export function unknownOptionError(key: string, valid: string[], where: string): Error & { option: string; suggestion: string | null };
/** The name in `names` nearest to `key`, or null when none is near. */
export function closestName(key: string, names: string[]): string | null;
/** Optimal string alignment distance. */
export function editDistance(a: string, b: string): number;
