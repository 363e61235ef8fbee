// Types of web/embedder.js: a sentence-embedding model in the TinyLM Worker.

export interface EmbedderInfo {
  name: string;
  architecture: string;
  dimensions: number;
  maxTokens: number;
  contextLength?: number;
  pooling: string;
  /** Identifies the weights: knowledge bases check it (EmbedderMismatchError). */
  fingerprint: string;
  [key: string]: unknown;
}

export interface EmbedderLoaded {
  id: string;
  size: number;
  sha256: string | null;
  downloaded: boolean;
  refetched: boolean;
  /** How the file was checked, as for models (tinylm.d.ts TrustReport). */
  verified: boolean;
  verification: { source: string; reason: string | null };
  version: string | null;
  update: { version: string; size: number; bytes: number } | null;
  info: EmbedderInfo;
}

export type Pooling = 'model' | 'mean' | 'cls';

export interface EmbedOptions {
  /** 'model' (default): the pooling the model file names. */
  pooling?: Pooling;
  signal?: AbortSignal | null;
}

export interface EmbedDetailed {
  /** Unit-length vectors: cosine similarity is their dot product. */
  vectors: Float32Array[];
  /** Tokens embedded per text ([CLS] and [SEP] included). */
  tokenCounts: number[];
  /** Whether each text was cut to the model's length. */
  truncated: boolean[];
}

/** The page's handle on an embedding model (TinyLM.loadEmbedder, lm.loadEmbedder). */
export class Embedder {
  /** `request` sends a Worker request (tinylm.js makes Embedders; pages do not). */
  constructor(request: (type: string, payload: object, options?: { signal?: AbortSignal | null; onEvent?: ((event: any) => void) | null }) => Promise<any>,
    loaded: EmbedderLoaded, owner?: { terminate(): void } | null);
  readonly loaded: EmbedderLoaded;
  readonly info: EmbedderInfo;
  readonly dimensions: number;
  /** The vector of a text. */
  embed(text: string, options?: EmbedOptions): Promise<Float32Array>;
  /** The vectors of texts, in order. */
  embed(texts: string[], options?: EmbedOptions): Promise<Float32Array[]>;
  embedDetailed(texts: string[], options?: EmbedOptions): Promise<EmbedDetailed>;
  /** A knowledge operation in the Worker (knowledge-base.js uses it). */
  knowledge(op: string, args: object, options?: { signal?: AbortSignal | null; onEvent?: ((event: any) => void) | null }): Promise<any>;
  /** Frees the model in the Worker (its stored weights stay); stops the Worker if TinyLM.loadEmbedder started it. */
  unload(): Promise<void>;
}
