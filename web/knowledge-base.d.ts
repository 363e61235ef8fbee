// Types of web/knowledge-base.js: documents embedded, stored in IndexedDB and searched on the device.

import type { Embedder, EmbedderInfo } from './embedder.js';
import type { TrustOptions, TrustReport, Progress } from './tinylm.js';

export type DocumentFormat = 'text' | 'markdown' | 'html';

/** A document to add: text with optional id (default: url, title or a hash of the text), title, url, format. */
export interface KnowledgeDocument {
  id?: string | null;
  title?: string;
  url?: string;
  text: string;
  format?: DocumentFormat | 'md' | 'txt' | 'htm' | null;
}

/** A stored document's summary. */
export interface DocumentSummary {
  id: string;
  title: string;
  url: string;
  sourceBytes: number;
  chunks: number;
  bytes: number;
  addedAt: number;
}

/** A passage found by search(). */
export interface SearchHit {
  score: number;
  documentId: string;
  title: string;
  url: string;
  heading: string;
  text: string;
  chunk: number;
}

export interface EmbedderIdentity { name: string; fingerprint: string; dimensions: number; pooling: string }

/** Where documents are kept: 'indexeddb', 'memory', or an object with these methods. */
export interface KnowledgeStorage {
  getBase(name: string): Promise<any>;
  putBase(record: any): Promise<void>;
  documents(name: string): Promise<any[]>;
  putDocument(name: string, record: any): Promise<void>;
  deleteDocument(name: string, id: string): Promise<void>;
  deleteBase(name: string): Promise<void>;
}

export interface KnowledgeProgress {
  phase: string;
  done: number;
  total: number;
  documentsDone: number;
  documentsTotal: number;
  [key: string]: unknown;
}

export interface OpenOptions {
  /** From TinyLM.loadEmbedder or lm.loadEmbedder (required). */
  embedder: Embedder;
  storage?: 'indexeddb' | 'memory' | KnowledgeStorage;
  /** For a new knowledge base (default 'int8'). */
  vectorForm?: 'int8' | 'f16' | 'f32';
  /** Passage size in tokens (default 160). */
  chunkTokens?: number | null;
  /** Tokens shared by neighbouring passages (default 32). */
  overlapTokens?: number | null;
}

export class KnowledgeBase {
  /** Opens (or creates) the knowledge base `name`; EmbedderMismatchError if another embedder built it. */
  static open(name: string, options: OpenOptions): Promise<KnowledgeBase>;
  /** A knowledge base from a knowledge file (bytes or a URL), e.g. what `tinylm index` builds. */
  static fromFile(source: string | URL | Uint8Array | ArrayBuffer,
    options: TrustOptions & { embedder: Embedder; name?: string | null; storage?: 'indexeddb' | 'memory' | KnowledgeStorage; signal?: AbortSignal | null;
      onProgress?: ((progress: Progress) => void) | null }): Promise<KnowledgeBase>;
  /** Deletes a stored knowledge base and its documents. */
  static delete(name: string, options?: { storage?: 'indexeddb' | KnowledgeStorage }): Promise<void>;

  readonly name: string;
  readonly embedder: Embedder;
  /** fromFile(url): how the knowledge file was stored and checked; null otherwise. */
  readonly file: (TrustReport & { id: string; size: number; sha256: string | null; downloaded: boolean; refetched: boolean }) | null;
  readonly key: string;
  /** The documents, in the order they were added. */
  readonly documents: DocumentSummary[];
  /** The embedder this knowledge was built with. */
  readonly embedderIdentity: EmbedderIdentity;
  /** Adds documents (a document, text, File, or a list of them); same-id documents are replaced. */
  add(documents: KnowledgeDocument | string | Blob | Array<KnowledgeDocument | string | Blob>,
    options?: { onProgress?: ((progress: KnowledgeProgress) => void) | null; signal?: AbortSignal | null }): Promise<DocumentSummary[]>;
  /** The k passages most similar to `query` (default 3). */
  search(query: string, options?: { k?: number }): Promise<SearchHit[]>;
  /** Removes a document; false if there was none with that id. */
  remove(documentId: string): Promise<boolean>;
  /** The knowledge file of every document (what `tinylm chat --knowledge` reads). */
  export(): Promise<Uint8Array>;
  /** Adds the documents of a knowledge file. */
  import(bytes: Uint8Array | ArrayBuffer): Promise<DocumentSummary[]>;
  /** Frees the search index in the Worker (the stored documents stay). */
  close(): Promise<void>;
}

/** 'markdown' | 'html' | 'text' for a document: its format, else its file name or MIME type. */
export function documentFormat(document?: { format?: string | null; name?: string; type?: string }): DocumentFormat;
/** A stable id for a document without one. */
export function documentId(document: { id?: string | null; url?: string; title?: string; text?: string }): string;

export class MemoryKnowledgeStorage implements KnowledgeStorage {
  getBase(name: string): Promise<any>;
  putBase(record: any): Promise<void>;
  documents(name: string): Promise<any[]>;
  putDocument(name: string, record: any): Promise<void>;
  deleteDocument(name: string, id: string): Promise<void>;
  deleteBase(name: string): Promise<void>;
}

export class IndexedDBKnowledgeStorage implements KnowledgeStorage {
  constructor(options?: { dbName?: string });
  getBase(name: string): Promise<any>;
  putBase(record: any): Promise<void>;
  documents(name: string): Promise<any[]>;
  putDocument(name: string, record: any): Promise<void>;
  deleteDocument(name: string, id: string): Promise<void>;
  deleteBase(name: string): Promise<void>;
}

/** The engine side (in the Worker, or directly under Node with engine.js). */
export class EngineKnowledgeBackend {
  constructor(embedder: any);
  readonly info: EmbedderInfo;
}
export function runKnowledgeOperation(backend: EngineKnowledgeBackend, op: string, args: object, context?: object): Promise<any>;
/** An Embedder-like object over an engine.js embedder (Node, tests). */
export function localEmbedder(engineEmbedder: any): any;
